/**
 * Says in the log when the kernel side loses batches: a full ring, a batch
 * over the maximum record size, or memory the probe could not read. One
 * warning per kind and interval, with the count and what to do.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { ProbeCounters } from "../probe/mod.ts";

const advice = {
  ringFull:
    "the controller did not read the ring buffer fast enough; raise --ring-size or give the controller more CPU",
  oversize:
    "batches larger than the probe's maximum record; lower the SDK's batch byte bound (see go/README.md)",
  readFaults: "the probe could not read the batch from the target's memory",
} as const;

/** Compares successive probe counters and warns about new losses. */
export class LossWatch {
  readonly #log: Logger;
  #last: ProbeCounters | undefined;

  /** Creates a watch that warns through `log`. */
  constructor(log: Logger) {
    this.#log = log;
  }

  /** Feeds the current counters; warns for each kind of loss that grew since the last call. */
  check(now: ProbeCounters): void {
    const last = this.#last;
    this.#last = { ...now };
    if (!last) return;
    for (const kind of Object.keys(advice) as (keyof typeof advice)[]) {
      const lost = now[kind] - last[kind];
      if (lost > 0) {
        this.#log.warn(`records lost in the kernel: ${advice[kind]}`, {
          reason: kind,
          records: lost,
          total: now[kind],
        });
      }
    }
  }
}
