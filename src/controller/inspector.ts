/**
 * Reads binaries for the attachment manager (through binaries.ts) so that no exec
 * storm can keep it from attaching: each binary version is read once, and
 * its verdict (the probe point, or none) is remembered under every name it
 * is known by — the kernel's identity from an exec event (device, inode,
 * generation, change time to the nanosecond) and the file's stat (device,
 * inode, change and modification time, size) — so that later execs of it,
 * and events already queued, are decided without a system call. Reads wait
 * in one bounded queue, by priority (likely SDK-linked binaries of processes
 * the filter wants first, then other wanted ones, then those read only to
 * rule them out in the kernel), and run a few at once.
 *
 * The queue is bounded because a storm can bring distinct binaries faster
 * than they can be read: when it is full, the least urgent job is dropped
 * (its processes are found again by the rescan the caller then runs, or at
 * their binary's next exec) and counted.
 *
 * @module
 */
import type { ExecBinary } from "../probe/mod.ts";
import type { TargetBinary } from "../process/mod.ts";

/** What reading a binary found: its probe point, or null without one. */
export type Verdict = TargetBinary | null;

/** Job priorities, most urgent first. */
export const Priority = {
  /** A process the filter wants, whose binary is large enough to hold the SDK. */
  likelySdk: 0,
  /** Another process the filter wants. */
  wanted: 1,
  /** Read only to rule the binary out in the kernel (filtered out, or gone). */
  ruleOut: 2,
} as const;

/** One of {@linkcode Priority}. */
export type Priority = typeof Priority[keyof typeof Priority];

/**
 * The smallest binary that goes first. A Go program that links the SDK
 * (its OpenTelemetry API, protowire encoding and runtime) is over 2 MB;
 * measured: build/bin/emitter 2.5 MB, hello 6.6 MB. Only an order: a
 * smaller binary is still read, after the larger ones.
 */
export const likelySdkBytes = 1 << 20;

/** Options of {@linkcode Inspector}. */
export interface InspectorOptions {
  /** Reads at once: one parses while the other waits for the disk. Default 2. */
  slots?: number;
  /** Jobs that may wait; more are dropped, least urgent first. Default 4096. */
  queueLimit?: number;
  /** Verdicts remembered (names, not binaries). Default 16384. */
  cacheLimit?: number;
  /** Milliseconds since some epoch (for the age of the oldest job). */
  now?: () => number;
}

/** The inspector's counters. */
export interface InspectorCounters {
  /** Binaries read. */
  reads: number;
  /** Verdicts answered from memory, or by a read already under way. */
  cacheHits: number;
  /** Jobs waiting for a slot. */
  queued: number;
  /** How long the oldest waiting job has waited (ms), 0 when none waits. */
  oldestMs: number;
  /** Jobs dropped from a full queue. */
  dropped: number;
}

interface Job {
  names: string[];
  priority: Priority;
  read: () => Promise<Verdict | undefined>;
  queuedAt: number;
  done: PromiseWithResolvers<Verdict | undefined>;
}

/** Reads binaries once per version, through a bounded priority queue. */
export class Inspector {
  readonly #slots: number;
  readonly #queueLimit: number;
  readonly #cacheLimit: number;
  readonly #now: () => number;
  /** Verdicts by name, least recently used first. */
  readonly #verdicts = new Map<string, Verdict>();
  /** Reads waiting or under way, by every name of their binary. */
  readonly #pending = new Map<string, Promise<Verdict | undefined>>();
  /** Waiting jobs, one list per priority. */
  readonly #queues: Job[][] = [[], [], []];
  #reading = 0;
  #closed = false;
  readonly #counters = { reads: 0, cacheHits: 0, dropped: 0 };

  /** Creates an empty inspector. */
  constructor(options: InspectorOptions = {}) {
    this.#slots = options.slots ?? 2;
    this.#queueLimit = options.queueLimit ?? 4096;
    this.#cacheLimit = options.cacheLimit ?? 16384;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * What is known of the binary called `name`: its verdict, a promise of it
   * while it is being read or waits to be (undefined when that read fails),
   * or undefined when nothing is known. No system call.
   */
  known(name: string): Verdict | Promise<Verdict | undefined> | undefined {
    const verdict = this.#verdicts.get(name);
    if (verdict !== undefined) {
      // Least recently used goes first: move it to the end.
      this.#verdicts.delete(name);
      this.#verdicts.set(name, verdict);
      this.#counters.cacheHits++;
      return verdict;
    }
    const pending = this.#pending.get(name);
    if (pending) this.#counters.cacheHits++;
    return pending;
  }

  /** Remembers `verdict` under `name` as well (another name of a binary read). */
  remember(name: string, verdict: Verdict): void {
    this.#verdicts.delete(name);
    this.#verdicts.set(name, verdict);
    if (this.#verdicts.size > this.#cacheLimit) {
      this.#verdicts.delete(this.#verdicts.keys().next().value!);
    }
  }

  /**
   * Reads the binary called by every one of `names` with `read`, unless a
   * verdict or a read is known under one of them (then that is the answer),
   * when a slot is free and no more urgent job waits. Resolves with the
   * verdict (remembered under all names), or undefined when `read` found
   * nothing to judge (the file went away: nothing is remembered) or the job
   * was dropped from a full queue.
   */
  inspect(
    names: string[],
    priority: Priority,
    read: () => Promise<Verdict | undefined>,
  ): Promise<Verdict | undefined> {
    for (const name of names) {
      const known = this.known(name);
      if (known !== undefined) {
        for (const other of names) {
          if (other !== name) this.#alias(other, known);
        }
        return known instanceof Promise ? known : Promise.resolve(known);
      }
    }
    if (this.#closed) return Promise.resolve(undefined);
    const job: Job = {
      names,
      priority,
      read,
      queuedAt: this.#now(),
      done: Promise.withResolvers(),
    };
    for (const name of names) this.#pending.set(name, job.done.promise);
    if (this.#reading < this.#slots) this.#run(job);
    else this.#enqueue(job);
    return job.done.promise;
  }

  /** The counters now. */
  counters(): InspectorCounters {
    let queued = 0;
    let oldest = Infinity;
    for (const q of this.#queues) {
      queued += q.length;
      for (const job of q.slice(0, 1)) oldest = Math.min(oldest, job.queuedAt);
    }
    return {
      ...this.#counters,
      queued,
      oldestMs: queued > 0 ? this.#now() - oldest : 0,
    };
  }

  /** Drops every waiting job (resolved undefined); reads under way finish. */
  close(): void {
    this.#closed = true;
    for (const q of this.#queues) {
      for (const job of q.splice(0)) this.#settle(job, undefined);
    }
  }

  #alias(name: string, known: Verdict | Promise<Verdict | undefined>): void {
    if (!(known instanceof Promise)) return this.remember(name, known);
    this.#pending.set(name, known);
    const done = () => {
      if (this.#pending.get(name) === known) this.#pending.delete(name);
    };
    // A failed read is its first asker's to report.
    known.then((verdict) => {
      done();
      if (verdict !== undefined) this.remember(name, verdict);
    }, done);
  }

  #enqueue(job: Job): void {
    const queued = this.#queues.reduce((n, q) => n + q.length, 0);
    if (queued >= this.#queueLimit) {
      // The newest of the least urgent jobs goes; the new one if it is that.
      const worst = this.#queues.findLastIndex((q) => q.length > 0);
      if (worst <= job.priority) {
        this.#counters.dropped++;
        return this.#settle(job, undefined);
      }
      this.#counters.dropped++;
      this.#settle(this.#queues[worst].pop()!, undefined);
    }
    this.#queues[job.priority].push(job);
  }

  #run(job: Job): void {
    this.#reading++;
    this.#counters.reads++;
    job.read().then(
      (verdict) => this.#settle(job, verdict),
      (err) => {
        for (const name of job.names) this.#pending.delete(name);
        job.done.reject(err);
      },
    ).finally(() => {
      this.#reading--;
      const next = this.#queues.find((q) => q.length > 0)?.shift();
      if (next && !this.#closed) this.#run(next);
    });
  }

  #settle(job: Job, verdict: Verdict | undefined): void {
    for (const name of job.names) {
      if (this.#pending.get(name) === job.done.promise) {
        this.#pending.delete(name);
      }
      if (verdict !== undefined) this.remember(name, verdict);
    }
    job.done.resolve(verdict);
  }
}

/**
 * The name of a binary as an exec event identifies it: the kernel's device,
 * inode, generation and change time to the nanosecond.
 */
export function execName(b: ExecBinary): string {
  return `exec:${b.dev}:${b.ino}:${b.generation}:${b.ctimeSec}:${b.ctimeNsec}`;
}

/**
 * The name of a binary as its stat identifies it: device, inode and version
 * (change time, modification time, size); on overlayfs without the device,
 * which is each container's own (see `binaryKey` in attachments.ts), so
 * that containers of one image share the verdict on its files.
 */
export function fileName(
  file: { dev: number; ino: number; version: string; overlay?: boolean },
): string {
  const dev = file.overlay ? "overlay" : file.dev;
  return `file:${dev}:${file.ino}:${file.version}`;
}
