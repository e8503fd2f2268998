/**
 * A table of the processes the controller has seen records from, looked up
 * in /proc once each, with a low-frequency check for their exits.
 *
 * Exits are noticed by reading /proc/<pid>/stat of the known pids only, once
 * a second by default, and only while some pid is tracked: no scan of /proc
 * and no timer when idle. (A pidfd would notice at once but needs FFI, which
 * lives only in src/ffi.) A pid reused within one interval is told apart by
 * its start time.
 *
 * @module
 */

import { type ProcessInfo, processInfo, startTicks } from "./proc.ts";

/** Options of {@linkcode ProcessTracker}. */
export interface ProcessTrackerOptions {
  /** Called once per tracked process after it exits. */
  onExit?: (info: ProcessInfo) => void;
  /** How often to check the tracked pids, in milliseconds. Default 1000. */
  intervalMs?: number;
}

/**
 * ProcessTracker caches {@linkcode ProcessInfo} per pid and reports exits.
 *
 * @example
 * ```ts
 * const procs = new ProcessTracker({ onExit: (p) => console.log("exited", p.pid) });
 * const info = await procs.lookup(tgid); // undefined if already gone
 * procs.close();
 * ```
 */
export class ProcessTracker {
  #known = new Map<number, ProcessInfo>();
  #pending = new Map<number, Promise<ProcessInfo | undefined>>();
  #onExit: (info: ProcessInfo) => void;
  #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking = false;
  #closed = false;

  /** Creates an empty tracker. */
  constructor(options: ProcessTrackerOptions = {}) {
    this.#onExit = options.onExit ?? (() => {});
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /**
   * Returns the info of `pid`, reading /proc the first time (concurrent
   * calls share one read) and tracking it from then on. Undefined when the
   * process is gone or cannot be inspected: records can outlive their
   * process, and attribution must not stop the data flow.
   */
  lookup(pid: number): Promise<ProcessInfo | undefined> {
    const known = this.#known.get(pid);
    if (known !== undefined) return Promise.resolve(known);
    const inFlight = this.#pending.get(pid);
    if (inFlight !== undefined) return inFlight;
    // A read that forget() made stale is neither kept nor shared.
    const current = () => this.#pending.get(pid) === pending;
    const pending: Promise<ProcessInfo | undefined> = processInfo(pid).then(
      (info) => {
        if (!this.#closed && current()) this.#track(info);
        return info;
      },
      () => undefined,
    ).finally(() => {
      if (current()) this.#pending.delete(pid);
    });
    this.#pending.set(pid, pending);
    return pending;
  }

  /**
   * Forgets what was read of `pid` (it executed another program, which
   * changes neither its pid nor its start time): the next lookup reads
   * /proc again. No onExit call.
   */
  forget(pid: number): void {
    this.#known.delete(pid);
    this.#pending.delete(pid);
  }

  /** True when `pid` is tracked or being read. */
  knows(pid: number): boolean {
    return this.#known.has(pid) || this.#pending.has(pid);
  }

  /** Returns the tracked info of `pid` without reading /proc. */
  get(pid: number): ProcessInfo | undefined {
    return this.#known.get(pid);
  }

  /** The tracked pids, ascending. */
  pids(): number[] {
    return [...this.#known.keys()].sort((a, b) => a - b);
  }

  /** Stops checking; tracked processes are forgotten without onExit calls. */
  close(): void {
    this.#closed = true;
    this.#known.clear();
    this.#stop();
  }

  #track(info: ProcessInfo): void {
    this.#known.set(info.pid, info);
    this.#timer ??= setInterval(() => this.#check(), this.#intervalMs);
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      for (const info of [...this.#known.values()]) {
        if ((await startTicks(info.pid)) === info.startTicks) continue;
        if (this.#known.get(info.pid) !== info) continue;
        this.#known.delete(info.pid);
        this.#onExit(info);
      }
      if (this.#known.size === 0) this.#stop();
    } finally {
      this.#checking = false;
    }
  }
}
