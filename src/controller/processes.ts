/**
 * Who sent a record: the process behind a tgid, described for the resource
 * of its spans, looked up once, again after it executed another program,
 * and forgotten when the process exits.
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
  // Each process is described once per program it runs, by the key that
  // also finds its merged resource in the exporter (see #keyOf). Moved to
  // #gone by pid when the process exits or executes another program.
  readonly #metas = new Map<string, ProcessMeta>();
  // Processes that exited: their records may still wait in the ring or the
  // decoder when the exit is noticed, and keep their description.
  readonly #gone = new Map<number, ProcessMeta>();
  // How many programs each pid executed since it was first described: part
  // of the key, so that a program executed in place (same pid, same start
  // time) gets a resource of its own.
  readonly #execs = new Map<number, number>();

  /**
   * `binaryOf` maps a process (its executable's device and inode, its pid)
   * to the binary resolved at attach time (for its Go build info); `onExit`
   * hears of exits.
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
        this.#retire(info);
        this.#execs.delete(info.pid);
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
    const execs = this.#execs.get(tgid);
    const info = await this.#tracker.lookup(tgid);
    // It executed another program while it was read: read it again.
    if (this.#execs.get(tgid) !== execs) return this.get(tgid);
    if (!info) return this.#goneMeta(tgid);
    const key = this.#keyOf(info);
    let meta = this.#metas.get(key);
    if (!meta) this.#metas.set(key, meta = this.#describe(key, info));
    return meta;
  }

  /**
   * Process `pid` executed a program (its exec event): what was read of it
   * describes the program it ran before. It is read again at its next
   * record; until then, and should it be gone by then, its records keep the
   * old description.
   */
  execed(pid: number): void {
    if (!this.#tracker.knows(pid)) return;
    const info = this.#tracker.get(pid);
    if (info) this.#retire(info);
    // Bounded: the last few thousand processes that executed in place.
    if (this.#execs.size >= 4096 && !this.#execs.has(pid)) {
      this.#execs.delete(this.#execs.keys().next().value!);
    }
    this.#execs.set(pid, (this.#execs.get(pid) ?? 0) + 1);
    this.#tracker.forget(pid);
  }

  /** Stops watching for exits. */
  close(): void {
    this.#tracker.close();
  }

  /** Moves the description of `info`, if any, to the gone ones. */
  #retire(info: ProcessInfo): void {
    const key = this.#keyOf(info);
    const meta = this.#metas.get(key);
    this.#metas.delete(key);
    if (meta) this.#setGone(info.pid, meta);
  }

  /**
   * A process's identity: its pid and start time (a reused pid is another
   * process), and the programs it executed since (a program executed in
   * place is another description).
   */
  #keyOf(info: ProcessInfo): string {
    const execs = this.#execs.get(info.pid);
    return `${info.pid}@${info.startTicks}${execs ? `.${execs}` : ""}`;
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
