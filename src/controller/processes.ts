/**
 * Who sent a record: the process behind a tgid, described for the resource
 * of its spans, looked up once and forgotten when the process exits.
 *
 * @module
 */
import type { ProcessMeta } from "../export/mod.ts";
import {
  type ProcessInfo,
  ProcessTracker,
  type TargetBinary,
} from "../process/mod.ts";

/** Turns tgids from ring records into the process metadata the exporter needs. */
export class Processes {
  readonly #tracker: ProcessTracker;
  readonly #binaryOf: (dev: number, ino: number) => TargetBinary | undefined;
  // Each process is described once, by the key that also finds its merged
  // resource in the exporter: pid and start time, so a reused pid is
  // another process. Forgotten when the process exits.
  readonly #metas = new Map<string, ProcessMeta>();
  readonly #gone = new Map<number, ProcessMeta>();

  /**
   * `binaryOf` maps an executable's device and inode to the binary resolved
   * at attach time (for its Go build info); `onExit` hears of exits.
   */
  constructor(
    binaryOf: (dev: number, ino: number) => TargetBinary | undefined,
    onExit: (pid: number) => void = () => {},
  ) {
    this.#binaryOf = binaryOf;
    this.#tracker = new ProcessTracker({
      onExit: (info) => {
        this.#metas.delete(keyOf(info));
        onExit(info.pid);
      },
    });
  }

  /** Number of traced processes that sent spans and still run. */
  get size(): number {
    return this.#tracker.pids().length;
  }

  /**
   * The metadata of process `tgid`. A process that exited before it could be
   * looked up is described by its pid alone: its spans are still exported.
   */
  async get(tgid: number): Promise<ProcessMeta> {
    const info = await this.#tracker.lookup(tgid);
    if (!info) return this.#goneMeta(tgid);
    const key = keyOf(info);
    let meta = this.#metas.get(key);
    if (!meta) this.#metas.set(key, meta = this.#describe(key, info));
    return meta;
  }

  /** Stops watching for exits. */
  close(): void {
    this.#tracker.close();
  }

  #goneMeta(tgid: number): ProcessMeta {
    let meta = this.#gone.get(tgid);
    if (!meta) {
      // Bounded: a pid whose records keep coming after its exit is rare.
      if (this.#gone.size >= 1024) this.#gone.clear();
      this.#gone.set(tgid, meta = { pid: tgid });
    }
    return meta;
  }

  #describe(key: string, info: ProcessInfo): ProcessMeta {
    const build = this.#binaryOf(info.dev, info.ino)?.build;
    return {
      key,
      pid: info.pid,
      exePath: info.exePath,
      exeName: info.exeName,
      cmdline: info.cmdline,
      owner: info.owner,
      goVersion: build?.goVersion,
      mainModule: build?.mainModule,
      buildSettings: build?.settings,
      containerId: info.containerId,
      podUid: info.podUid,
    };
  }
}

/** A process's identity: its pid and start time (a reused pid is another process). */
function keyOf(info: ProcessInfo): string {
  return `${info.pid}@${info.startTicks}`;
}
