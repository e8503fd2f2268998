/**
 * Readiness: the agent is ready when its probe is loaded and attached, its
 * ring buffer is being read, discovery keeps up with the host's processes
 * (no binary has waited long to be read, and no lost exec event is still
 * being caught up on), and the export of no signal (spans, log records)
 * has been failing for longer than the threshold.
 *
 * @module
 */
import type { ControllerStats, DiscoveryStats } from "../controller/mod.ts";
import type { ExportHealth } from "./export_watch.ts";

/** What the telemetry reads from the running agent (the controller). */
export interface AgentSource {
  /** Every counter, right now; throws when the probe's maps cannot be read. */
  stats(): ControllerStats;
}

/** One readiness check and its result. */
export interface Check {
  /** `probe`, `ring`, `discovery` or `export` (one per failing signal). */
  name: string;
  /** Whether it passed. */
  ok: boolean;
  /** What was found, as a sentence. */
  detail: string;
}

/** The readiness verdict with the checks behind it. */
export interface Readiness {
  /** All checks passed. */
  ready: boolean;
  /** Each check, in order. */
  checks: Check[];
}

/**
 * Watches whether the ring buffer is being read: the probe's `submitted`
 * counter against the records the decoder took (valid or corrupt). The
 * reader is stalled when records were submitted after the last time it took
 * one, and that was longer than `stallMs` ago. Counters of a probe adopted
 * from an earlier controller do not matter: only progress is compared.
 */
export class RingWatch {
  readonly #stallMs: number;
  #read = -1;
  #readSince = 0;
  #submittedThen = 0;

  /** `stallMs`: how long the reader may take no record while new ones wait. */
  constructor(stallMs = 10_000) {
    this.#stallMs = stallMs;
  }

  /** Looks at the counters at time `now` (ms) and judges the ring. */
  check(stats: ControllerStats, now: number): Check {
    const read = stats.decode.records + stats.decode.corrupt;
    if (read !== this.#read) {
      this.#read = read;
      this.#readSince = now;
      this.#submittedThen = stats.probe.submitted;
    }
    const waiting = stats.probe.submitted - this.#submittedThen;
    const idleMs = now - this.#readSince;
    if (waiting > 0 && idleMs > this.#stallMs) {
      return {
        name: "ring",
        ok: false,
        detail: `no record read for ${
          (idleMs / 1000).toFixed(1)
        } s while ${waiting} were submitted`,
      };
    }
    return { name: "ring", ok: true, detail: `read (${read} records)` };
  }
}

/**
 * Judges discovery: a process started now would not be found soon while it
 * lags (a storm of execs, or exec events lost).
 */
export function discoveryCheck(d: DiscoveryStats): Check {
  return d.lagging === undefined
    ? {
      name: "discovery",
      ok: true,
      detail: `keeping up (${d.reads} binaries read, ${d.queued} waiting)`,
    }
    : { name: "discovery", ok: false, detail: `lagging: ${d.lagging}` };
}

/**
 * Judges readiness. `source` is undefined until the controller has loaded
 * and attached its probe; `now` and `failingMs` are in milliseconds.
 */
export function readiness(
  source: AgentSource | undefined,
  ring: RingWatch,
  exports: ExportHealth,
  failingMs: number,
  now: number,
): Readiness {
  const checks: Check[] = [];
  if (!source) {
    checks.push({
      name: "probe",
      ok: false,
      detail: "the probe is not loaded and attached yet",
    });
  } else {
    checks.push({ name: "probe", ok: true, detail: "loaded and attached" });
    try {
      // stats() reads the probe's counters from its pinned maps.
      const stats = source.stats();
      checks.push(ring.check(stats, now));
      if (stats.discovery) checks.push(discoveryCheck(stats.discovery));
    } catch (err) {
      checks.push({
        name: "ring",
        ok: false,
        detail: `the probe's maps cannot be read: ${(err as Error).message}`,
      });
    }
  }
  const failing = [...exports.failing()];
  if (failing.length === 0) {
    checks.push({ name: "export", ok: true, detail: "not failing" });
  }
  for (const [signal, since] of failing) {
    const failedFor = now - since;
    checks.push({
      name: "export",
      ok: failedFor < failingMs,
      detail: `${signal} failing for ${
        (failedFor / 1000).toFixed(1)
      } s (not ready after ${failingMs / 1000} s)`,
    });
  }
  return { ready: checks.every((c) => c.ok), checks };
}
