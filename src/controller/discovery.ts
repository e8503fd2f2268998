/**
 * Finds new processes: from exec events (src/probe/exec_events.ts), in the
 * order of the events, with a slow /proc rescan as a safety net, or, without
 * exec events (an older kernel or a refused program), from a /proc rescan
 * every second. Events the kernel's ring had no room for, and binary reads
 * dropped from the inspector's full queue, are counted, warned about and
 * followed by a catch-up rescan; meanwhile {@linkcode Discovery.catchingUp}
 * says discovery lags (for /readyz).
 *
 * The machine is reached through a {@linkcode ProcessSource} only, which a
 * test fakes.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import {
  type ExecBinary,
  type ExecEvent,
  type ExecEvents,
  type ExecEventsOptions,
  openExecEvents,
} from "../probe/mod.ts";
import {
  containerOf,
  type ExeFile,
  exeFile,
  listPids,
} from "../process/mod.ts";
import { likelySdkBytes } from "./inspector.ts";
import { Lane } from "./lanes.ts";

/** Where processes are learnt from: the kernel's exec events and /proc. */
export interface ProcessSource {
  /** Starts the kernel's exec events; throws when the kernel refuses them. */
  openEvents(options?: ExecEventsOptions): ExecEvents;
  /** The pids in /proc, ascending. */
  listPids(): Promise<number[]>;
  /** What `pid` executes now; undefined when it is gone. */
  exeFile(pid: number): Promise<ExeFile | undefined>;
  /** The container `pid` runs in (empty on the host or when it is gone). */
  containerOf(pid: number): Promise<{ containerId?: string }>;
}

/** This machine's kernel and /proc. */
export const hostProcesses: ProcessSource = {
  openEvents: (options) => openExecEvents(options),
  listPids,
  exeFile,
  containerOf,
};

/** What {@linkcode Discovery} asks its owner to do. */
export interface DiscoveryHandlers {
  /** Handle the exec `event` in turn, in `lane`. */
  exec(event: ExecEvent, lane: Lane): void;
  /** Handle the exit of `pid` after its execs; `last` is its latest exec then. */
  exit(pid: number, last: ExecEvent | undefined): void;
  /** Rescan /proc in turn; resolve once what it found was looked at. */
  rescan(): Promise<void>;
  /** Reads dropped so far from the inspector's full queue. */
  dropped(): number;
}

/** How often /proc is rescanned: without exec events, and as a safety net with them. */
const rescanMs = { fallback: 1_000, safety: 30_000 };
/**
 * How long after exec events were lost the catch-up rescan starts: the
 * storm that overflowed the ring may go on, and one rescan after a pause
 * catches up on more of it than many during it.
 */
const catchUpDelayMs = 500;
/** Pids whose latest exec is remembered (see {@linkcode Discovery.latest}). */
const latestExecLimit = 65_536;

/** The exec events (or rescans) that bring new processes. */
export class Discovery {
  readonly #source: ProcessSource;
  readonly #log: Logger;
  readonly #on: DiscoveryHandlers;
  #events: ExecEvents | undefined;
  #rescanTimer: ReturnType<typeof setInterval> | undefined;
  #rescanning: Promise<void> | undefined;
  /**
   * The latest exec event of each pid, until its exit is handled: an exec
   * handled after a later one of the same pid (the lanes reorder them, e.g.
   * `sh -c 'exec ./server'`) must not undo what the later one did.
   */
  readonly #latestExec = new Map<number, ExecEvent>();
  /** Exec events lost so far, as last read from the kernel. */
  #eventsLost = 0;
  /** Reads dropped so far, as last seen. */
  #dropped = 0;
  /** Set while a catch-up rescan is due or running. */
  #catchingUp: Promise<void> | undefined;
  /** Set when more was lost after the catch-up rescan started. */
  #behind = false;
  #closed = false;

  /** Nothing starts until {@linkcode open} and {@linkcode follow}. */
  constructor(source: ProcessSource, log: Logger, on: DiscoveryHandlers) {
    this.#source = source;
    this.#log = log;
    this.#on = on;
  }

  /** How new processes are found: "exec tracepoint" or "/proc rescan". */
  get by(): string {
    return this.#events ? "exec tracepoint" : "/proc rescan";
  }

  /** True once the kernel's exec events are open. */
  get hasEvents(): boolean {
    return this.#events !== undefined;
  }

  /** Exec events the kernel's ring had no room for, so far. */
  get eventsLost(): number {
    return this.#eventsLost;
  }

  /** True while a catch-up rescan is due or running. */
  get catchingUp(): boolean {
    return this.#catchingUp !== undefined;
  }

  /** Starts the exec events; on failure warns that /proc is rescanned instead. */
  open(options?: ExecEventsOptions): void {
    if (this.#closed) return;
    try {
      this.#events = this.#source.openEvents(options);
    } catch (err) {
      this.#log.warn(
        "cannot watch process starts; rescanning /proc every second instead",
        { error: (err as Error).message },
      );
    }
  }

  /** Starts reading the events and rescanning /proc now and then. */
  follow(): void {
    if (this.#closed) return;
    this.#rescanTimer = setInterval(() => {
      this.#rescanning ??= this.#on.rescan().finally(() =>
        this.#rescanning = undefined
      );
    }, this.#events ? rescanMs.safety : rescanMs.fallback);
    const events = this.#events;
    if (!events) return;
    this.#read(events).catch((err) => {
      // Never seen; the slow rescan still finds new processes.
      this.#log.warn("stopped reading exec events", {
        error: (err as Error).message,
      });
      events.close();
    });
  }

  /** The latest exec event of `pid` not followed by its handled exit. */
  latest(pid: number): ExecEvent | undefined {
    return this.#latestExec.get(pid);
  }

  /** The exit of `pid` after exec `last` is handled. */
  exited(pid: number, last: ExecEvent | undefined): void {
    if (this.#latestExec.get(pid) === last) this.#latestExec.delete(pid);
  }

  /** Stops the kernel reporting execs of `binary`, which has no probe point. */
  ruleOut(binary: ExecBinary): void {
    this.#events?.ruleOut(binary);
  }

  /** Has the kernel report the exit of `pid` (found by a rescan, or traced). */
  watch(pid: number): void {
    this.#events?.watch(pid);
  }

  /** Stops the kernel reporting the exit of `pid`, which is not traced. */
  unwatch(pid: number): void {
    this.#events?.unwatch(pid);
    this.#latestExec.delete(pid); // no exit event comes
  }

  /** Stops reading and rescanning. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#rescanTimer);
    this.#events?.close();
  }

  async #read(events: ExecEvents): Promise<void> {
    while (!this.#closed) {
      // The wait ends early when events come or when close() cancels it.
      for (const event of await events.next(60_000)) {
        const { pid } = event;
        if (event.kind === "exec") {
          // The kernel's size of the file is a free first guess: a
          // storm of small programs waits behind a likely SDK binary.
          const lane = event.size !== undefined && event.size < likelySdkBytes
            ? Lane.later
            : Lane.first;
          this.#latestExec.delete(pid); // keeps the map in exec order
          this.#latestExec.set(pid, event);
          if (this.#latestExec.size > latestExecLimit) {
            // Pids whose exit the kernel could not report (its map full).
            this.#latestExec.delete(this.#latestExec.keys().next().value!);
          }
          this.#on.exec(event, lane);
        } else {
          // After its exec is handled, which may be under way (in either
          // lane: the owner tells a new process that reused the pid).
          this.#on.exit(pid, this.#latestExec.get(pid));
        }
      }
      this.#checkLost(events);
    }
  }

  /**
   * Warns about exec events the kernel had no room for, counts reads
   * dropped from a full queue, and rescans /proc to find the processes
   * they were about.
   */
  #checkLost(events: ExecEvents): void {
    if (this.#closed) return; // the counter is gone with the events
    const lost = Math.max(events.lost(), this.#eventsLost);
    const dropped = this.#on.dropped();
    if (lost === this.#eventsLost && dropped === this.#dropped) return;
    if (lost > this.#eventsLost) {
      this.#log.warn("exec events lost", {
        lost: lost - this.#eventsLost,
        total: lost,
        why:
          "the exec event ring was full; processes started meanwhile are found by a /proc rescan",
      });
    }
    this.#eventsLost = lost;
    this.#dropped = dropped;
    this.#behind = true;
    this.#catchingUp ??= (async () => {
      while (this.#behind && !this.#closed) {
        this.#behind = false;
        await new Promise((r) => setTimeout(r, catchUpDelayMs));
        if (!this.#closed) await this.#on.rescan();
      }
    })().catch((err) =>
      this.#log.warn("cannot rescan /proc", { error: (err as Error).message })
    ).finally(() => this.#catchingUp = undefined);
  }
}
