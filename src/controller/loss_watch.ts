/**
 * Says in the log when batches are lost before export: in the kernel (a
 * full ring, a batch over the maximum record size, memory the probe could
 * not read) or in decoding (a corrupt record). Kernel losses: one warning
 * per kind and interval, with the count and what to do; losses counted
 * before this controller started (an adopted probe) are reported at once.
 * Corrupt records: the first of each reason at once, then at most one line
 * per reason and 10 s, with the count since the last line. Batches lost in
 * the ring per process (from the SDK's batch sequence): one line per check
 * with the processes that lost the most.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { ProbeCounters } from "../probe/mod.ts";
import type { CorruptReason } from "../decode/mod.ts";
import type { ProcessLoss } from "./batch_loss.ts";

const advice = {
  ringFull:
    "the controller did not read the ring buffer fast enough; raise --ring-size or give the controller more CPU",
  oversize:
    "batches larger than the probe's maximum record; lower the SDK's batch byte bound (see go/README.md)",
  readFaults: "the probe could not read the batch from the target's memory",
} as const;

/** Time between two warnings about corrupt records of one reason. */
const corruptIntervalMs = 10_000;

/** Processes named in one warning about lost batches. */
const processesNamed = 5;

/** Compares successive probe counters and warns about new losses. */
export class LossWatch {
  readonly #log: Logger;
  #last: ProbeCounters | undefined;
  readonly #corrupt = new Map<
    CorruptReason,
    { last: number; unreported: number }
  >();

  /** Creates a watch that warns through `log`. */
  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Feeds the current counters; warns for each kind of loss that grew since
   * the last call. The first call warns about losses already counted: the
   * pinned counters outlive a controller, so these happened while no
   * controller ran or under the one whose probe this controller adopted.
   */
  check(now: ProbeCounters): void {
    const last = this.#last;
    this.#last = { ...now };
    for (const kind of Object.keys(advice) as (keyof typeof advice)[]) {
      const lost = now[kind] - (last?.[kind] ?? 0);
      if (lost <= 0) continue;
      if (last) {
        this.#log.warn(`records lost in the kernel: ${advice[kind]}`, {
          reason: kind,
          records: lost,
          total: now[kind],
        });
      } else {
        this.#log.warn(
          "records lost in the kernel before this controller started (no controller read the ring, or the one that ran before counted them)",
          { reason: kind, records: lost, total: now[kind] },
        );
      }
    }
  }

  /**
   * Warns about batches newly counted lost before they were read (largest first):
   * the processes that lost the most, by pid and service.
   */
  batches(losses: readonly ProcessLoss[]): void {
    if (losses.length === 0) return;
    this.#log.warn(
      "batches lost before the controller read them, by process (gaps in the SDK's batch sequence)",
      {
        batches: losses.reduce((n, l) => n + l.batches, 0),
        byProcess: losses.slice(0, processesNamed),
        ...(losses.length > processesNamed &&
          { otherProcesses: losses.length - processesNamed }),
      },
    );
  }

  /** Hears of one corrupt record; warns rate-limited per reason. */
  corrupt(reason: CorruptReason, detail: string): void {
    let state = this.#corrupt.get(reason);
    if (!state) {
      this.#corrupt.set(reason, state = { last: -Infinity, unreported: 0 });
    }
    state.unreported++;
    const now = Date.now();
    if (now - state.last < corruptIntervalMs) return;
    this.#log.warn(`corrupt records dropped: ${detail}`, {
      reason,
      records: state.unreported,
    });
    state.last = now;
    state.unreported = 0;
  }
}
