/**
 * Readiness: the agent is ready when its probe is loaded and attached, its
 * ring buffer can be read, and export has not been failing for longer than
 * the threshold.
 *
 * @module
 */
import type { ControllerStats } from "../controller/controller.ts";
import type { ExportHealth } from "./export_watch.ts";

/** What the telemetry reads from the running agent (the controller). */
export interface AgentSource {
  /** Every counter, right now; throws when the probe's maps cannot be read. */
  stats(): ControllerStats;
}

/** One readiness check and its result. */
export interface Check {
  /** `probe`, `ring` or `export`. */
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
 * Judges readiness. `source` is undefined until the controller has loaded
 * and attached its probe; `now` and `failingMs` are in milliseconds.
 */
export function readiness(
  source: AgentSource | undefined,
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
      checks.push({
        name: "ring",
        ok: true,
        detail: `readable (${stats.decode.records} records read)`,
      });
    } catch (err) {
      checks.push({
        name: "ring",
        ok: false,
        detail: `the probe's maps cannot be read: ${(err as Error).message}`,
      });
    }
  }
  const since = exports.failingSince();
  const failedFor = since === undefined ? 0 : now - since;
  checks.push(
    since === undefined
      ? { name: "export", ok: true, detail: "not failing" }
      : {
        name: "export",
        ok: failedFor < failingMs,
        detail: `failing for ${
          (failedFor / 1000).toFixed(1)
        } s (not ready after ${failingMs / 1000} s)`,
      },
  );
  return { ready: checks.every((c) => c.ok), checks };
}
