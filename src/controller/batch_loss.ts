/**
 * Batches lost before the controller read them, per process and service,
 * counted from the SDK's per-process batch sequence (struct sb_batch_header
 * in bpf/ended.h): in the kernel (the probe's own counters say how many,
 * not whose), or handed off while the probe was detached from a process
 * that goes on running (which nothing else counts).
 *
 * Per process (its pid and start time, the key the process table uses) the
 * sequences received are tracked; a missing one is counted lost only once
 * it is certain not to come:
 *
 * - Reordering: the SDK takes the number just before its call of ended(),
 *   so two goroutines can reach the ring in the other order, a few places
 *   apart (one may be preempted between the two steps). The ring itself
 *   keeps reservation order. So a missing sequence is counted lost only
 *   after a later sequence of that process was seen at least `graceMs`
 *   earlier and the ring has been read to its end since ({@linkcode settle});
 *   at stop, after the last read, everything missing is lost
 *   ({@linkcode finish}).
 * - A restart: another process, another key, a fresh count. The first batch
 *   seen of a process starts its count: losses before it cannot be told
 *   from batches handed over while no probe was attached.
 * - Losses after a process's last batch leave no gap and are not counted
 *   here (the probe's ring_full counter has them).
 *
 * @module
 */

/** The service name under which services past the bound are counted. */
export const OTHER_SERVICES = "_other";

/** Options of {@linkcode BatchLoss}. */
export interface BatchLossOptions {
  /** How long a missing batch may be outrun by a later one before it counts as lost (ms, default 2000). */
  graceMs?: number;
  /** Out-of-order batches remembered per process; past it the oldest gaps count as lost (default 4096). */
  maxAhead?: number;
  /**
   * Out-of-order batches remembered for all processes together; past it the
   * process that went over has all its gaps counted as lost (default 65536:
   * a few MiB, whatever the processes send).
   */
  maxAheadTotal?: number;
  /** Services counted by name; the losses of later ones go to {@linkcode OTHER_SERVICES} (default 50). */
  maxServices?: number;
  /** Processes tracked; the least recently heard of is forgotten first (default 4096). */
  maxProcesses?: number;
}

/** What {@linkcode BatchLoss} counted. */
export interface BatchLossCounters {
  /** Batches lost before they were read, all processes together. */
  lost: number;
  /**
   * Lost batches by the SDK's service.name: at most `maxServices` names
   * (the first to lose batches), then {@linkcode OTHER_SERVICES}. A name
   * never leaves, so each count only grows.
   */
  lostByService: Record<string, number>;
  /** Processes that lost at least one batch. */
  processes: number;
  /**
   * Batches that came after they were counted lost (held up longer than
   * the grace), or twice. Should stay 0; when not, `lost` overstates by it.
   */
  late: number;
  /** Batches that came after a later one of their process, in time to count as received. */
  reordered: number;
}

/** A lost count of one process, for the log. */
export interface ProcessLoss {
  /** The process id. */
  pid: number;
  /** Its service.name. */
  service: string;
  /** Batches newly counted lost. */
  batches: number;
}

/** The sequence state of one process. */
interface Stream {
  readonly pid: number;
  readonly service: string;
  /** Sequences below this one were received or counted lost. */
  next: number;
  /** The first sequence seen: earlier ones are not tracked. */
  readonly base: number;
  /** The highest sequence seen. */
  high: number;
  /** Sequences above `next` received, while `next` is missing. */
  readonly ahead: Set<number>;
  /** `high` as it was at each of some settle() calls while a gap was open. */
  readonly marks: { high: number; at: number }[];
  /** Batches counted lost. */
  lost: number;
}

/** Tracks each process's batch sequence and counts the gaps. */
export class BatchLoss {
  readonly #graceMs: number;
  readonly #maxAhead: number;
  readonly #maxAheadTotal: number;
  /** Sequences in all the streams' `ahead` sets. */
  #aheadTotal = 0;
  readonly #maxServices: number;
  readonly #maxProcesses: number;
  readonly #streams = new Map<string, Stream>();
  /** Streams with a gap open. */
  readonly #open = new Set<Stream>();
  #last: Stream | undefined;
  #lastKey: string | undefined;
  readonly #byService = new Map<string, number>();
  #lost = 0;
  #late = 0;
  #reordered = 0;
  #processes = 0;
  /** Losses counted since the last {@linkcode takeNew}, by stream. */
  readonly #fresh = new Map<Stream, number>();

  /** Creates a tracker with no process known. */
  constructor(options: BatchLossOptions = {}) {
    this.#graceMs = options.graceMs ?? 2_000;
    this.#maxAhead = options.maxAhead ?? 4096;
    this.#maxAheadTotal = options.maxAheadTotal ?? 65536;
    this.#maxServices = options.maxServices ?? 50;
    this.#maxProcesses = options.maxProcesses ?? 4096;
  }

  /**
   * Hears of a batch with sequence `seq` from the process `key` (pid and
   * start time), in the order the ring gave it. `service` names the
   * process's service; it is called once, when the process is first seen.
   */
  observe(key: string, pid: number, seq: number, service: () => string): void {
    // Past 2^53 a number no longer counts by one: only a process that
    // writes its own headers gets there.
    if (!Number.isSafeInteger(seq)) return;
    // Records come in runs per process: the last stream is checked first.
    let s = key === this.#lastKey ? this.#last : this.#touch(key);
    if (s && seq < s.next && s.next - seq > this.#maxAhead) {
      // Far behind: the same process runs a new program (exec keeps the pid
      // and start time) whose sequence began again. The old program is
      // gone, so what it left missing is lost.
      this.#settleTo(s, s.high);
      this.#streams.delete(key);
      s = undefined;
    }
    if (!s) {
      s = {
        pid,
        service: service(),
        next: seq + 1,
        base: seq,
        high: seq,
        ahead: new Set(),
        marks: [],
        lost: 0,
      };
      this.#add(key, s);
      return;
    }
    if (seq === s.next) {
      s.next++;
      s.high = Math.max(s.high, seq);
      if (s.ahead.size > 0) {
        this.#reordered++;
        this.#advance(s);
      }
    } else if (seq > s.next) {
      if (s.ahead.has(seq)) {
        this.#late++;
        return;
      }
      s.ahead.add(seq);
      this.#aheadTotal++;
      if (seq < s.high) this.#reordered++;
      s.high = Math.max(s.high, seq);
      this.#open.add(s);
      // Memory is bounded: the oldest half of the gaps counts as lost now,
      // or all of them when all processes together hold too many.
      if (this.#aheadTotal > this.#maxAheadTotal) {
        this.#settleTo(s, s.high);
      } else if (s.ahead.size > this.#maxAhead) {
        this.#settleTo(s, s.high - Math.floor(this.#maxAhead / 2));
      }
    } else if (seq >= s.base) {
      // Counted lost already, or a duplicate.
      this.#late++;
    }
  }

  /**
   * Counts as lost what is missing behind a sequence seen at least the
   * grace ago. Call it only when the ring was read to its end and every
   * record read was observed: a batch still in the ring is not missing.
   */
  settle(now: number): void {
    for (const s of this.#open) {
      const lastMark = s.marks.at(-1);
      // A few marks per grace keep the memory small and the delay close
      // to the grace.
      if (
        !lastMark ||
        (lastMark.high !== s.high && now - lastMark.at >= this.#graceMs / 8)
      ) {
        s.marks.push({ high: s.high, at: now });
      }
      while (s.marks.length > 0 && now - s.marks[0].at >= this.#graceMs) {
        this.#settleTo(s, s.marks.shift()!.high);
      }
    }
  }

  /** Counts everything still missing as lost: after the last read of the ring. */
  finish(): void {
    for (const s of this.#open) this.#settleTo(s, s.high);
  }

  /** The counts so far. */
  counters(): BatchLossCounters {
    return {
      lost: this.#lost,
      lostByService: Object.fromEntries(this.#byService),
      processes: this.#processes,
      late: this.#late,
      reordered: this.#reordered,
    };
  }

  /** The per-process losses counted since the last call, largest first. */
  takeNew(): ProcessLoss[] {
    const out = [...this.#fresh].map(([s, batches]) => ({
      pid: s.pid,
      service: s.service,
      batches,
    })).sort((a, b) => b.batches - a.batches);
    this.#fresh.clear();
    return out;
  }

  /** The stream of `key`, made the most recently heard of. */
  #touch(key: string): Stream | undefined {
    const s = this.#streams.get(key);
    if (s) {
      this.#streams.delete(key);
      this.#streams.set(key, s);
      this.#last = s;
      this.#lastKey = key;
    }
    return s;
  }

  #add(key: string, s: Stream): void {
    if (this.#streams.size >= this.#maxProcesses) {
      // The least recently heard of: its open gaps stay uncounted rather
      // than being guessed lost.
      const [oldKey, old] = this.#streams.entries().next().value!;
      this.#streams.delete(oldKey);
      if (this.#last === old) this.#last = this.#lastKey = undefined;
      this.#open.delete(old);
      this.#aheadTotal -= old.ahead.size;
      this.#fresh.delete(old);
    }
    this.#streams.set(key, s);
    this.#last = s;
    this.#lastKey = key;
  }

  /** Counts what is missing below `limit` (exclusive of received ones) as lost. */
  #settleTo(s: Stream, limit: number): void {
    if (limit <= s.next) return;
    let received = 0;
    for (const seq of s.ahead) {
      if (seq < limit) {
        s.ahead.delete(seq);
        received++;
      }
    }
    this.#aheadTotal -= received;
    this.#count(s, limit - s.next - received);
    s.next = limit;
    this.#advance(s);
  }

  /** Moves `next` past the sequences received ahead; closes the gap when none is left. */
  #advance(s: Stream): void {
    while (s.ahead.delete(s.next)) {
      s.next++;
      this.#aheadTotal--;
    }
    if (s.ahead.size === 0) {
      this.#open.delete(s);
      s.marks.length = 0;
    }
  }

  #count(s: Stream, lost: number): void {
    if (lost <= 0) return;
    if (s.lost === 0) this.#processes++;
    s.lost += lost;
    this.#lost += lost;
    this.#fresh.set(s, (this.#fresh.get(s) ?? 0) + lost);
    const name = this.#byService.has(s.service) ||
        this.#byService.size < this.#maxServices
      ? s.service
      : OTHER_SERVICES;
    this.#byService.set(name, (this.#byService.get(name) ?? 0) + lost);
  }
}
