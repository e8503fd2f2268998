/**
 * One step of the pipeline benchmark at one rate, and how it is judged:
 * lossless or not, the rate it shows, the share it lost.
 *
 * @module
 */
import type { StoppedCounters } from "./controller.ts";

/** One step at one rate. */
export interface Step {
  /** The rate offered, records/s. */
  rate: number;
  /** Records (spans plus log records) the load program made. */
  sent: number;
  /** Spans it made. */
  sentSpans: number;
  /** Log records it made. */
  sentLogs: number;
  /** The rate it reached, records/s. */
  achieved: number;
  /** The controller's final counters; undefined when it failed. */
  counters?: StoppedCounters;
  /** The controller's CPU seconds from attach until it was told to stop. */
  cpuSeconds: number;
  /** Its peak RSS so far, MiB. */
  peakMiB: number;
  /** Body bytes the receiver got. */
  receiverBytes: number;
  /** CPU seconds of this process (the receiver, otherwise idle) during the step. */
  receiverCpuSeconds: number;
}

/** True when every span and log record made it through and nothing was lost or dropped. */
export function lossless(s: Step): boolean {
  const c = s.counters;
  return c !== undefined && c.received === s.sentSpans &&
    c.exported === c.received && c.dropped === 0 &&
    c.logsReceived === s.sentLogs && c.logsExported === c.logsReceived &&
    c.logsDropped === 0 && c.recordsLost === 0 && c.recordsCorrupt === 0;
}

/**
 * The best lossless rate: the rate offered, or the one made when the load
 * program fell more than 1% short of it (0 without a lossless step).
 */
export function maxRate(best: Step | undefined): number {
  if (!best) return 0;
  return best.achieved >= 0.99 * best.rate ? best.rate : best.achieved;
}

/** Share of the records sent that were not exported (1 when the controller failed). */
export function lossRatio(s: Step): number {
  const c = s.counters;
  return c ? Math.max(0, 1 - (c.exported + c.logsExported) / s.sent) : 1;
}
