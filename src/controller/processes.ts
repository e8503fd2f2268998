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
  readonly #binaryOf: (
    dev: number,
    ino: number,
    pid: number,
  ) => TargetBinary | undefined;
  // Each process is described once, by the key that also finds its merged
  // resource in the exporter: pid and start time, so a reused pid is
  // another process. Moved to #gone by pid when the process exits.
  readonly #metas = new Map<string, ProcessMeta>();
  // Processes that exited: their records may still wait in the ring or the
  // decoder when the exit is noticed, and keep their description.
  readonly #gone = new Map<number, ProcessMeta>();

  /**
   * `binaryOf` maps a process (its executable's device and inode, its pid) to
   * the binary resolved
   * at attach time (for its Go build info); `onExit` hears of exits.
   */
  constructor(
    binaryOf: (
      dev: number,
      ino: number,
      pid: number,
    ) => TargetBinary | undefined,
    onExit: (pid: number) => void = () => {},
  ) {
    this.#binaryOf = binaryOf;
    this.#tracker = new ProcessTracker({
      onExit: (info) => {
        const key = keyOf(info);
        const meta = this.#metas.get(key);
        this.#metas.delete(key);
        if (meta) this.#setGone(info.pid, meta);
        onExit(info.pid);
      },
    });
  }

  /** Number of traced processes that sent spans and still run. */
  get size(): number {
    return this.#tracker.pids().length;
  }

  /**
   * The metadata of process `tgid`. A process that exited keeps the
   * description it had while it ran; one that exited before it could be
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
    return this.#gone.get(tgid) ?? this.#setGone(tgid, { pid: tgid });
  }

  #setGone(tgid: number, meta: ProcessMeta): ProcessMeta {
    // Bounded: the last few thousand exits, oldest forgotten first.
    if (this.#gone.size >= 4096) {
      this.#gone.delete(this.#gone.keys().next().value!);
    }
    this.#gone.delete(tgid);
    this.#gone.set(tgid, meta);
    return meta;
  }

  #describe(key: string, info: ProcessInfo): ProcessMeta {
    const build = this.#binaryOf(info.dev, info.ino, info.pid)?.build;
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
