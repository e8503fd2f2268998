/**
 * Controller counters for the tests: a full set for the telemetry tests,
 * and zero-filled builders that set only what a test is about.
 *
 * @module
 */
import type { ControllerStats } from "../src/controller/mod.ts";
import type { DropReason } from "../src/export/queue.ts";
import type { ProbeCounters } from "../src/probe/mod.ts";

/** A probe's counters: every one 0 but those in `set`. */
export function probeCounters(
  set: Partial<ProbeCounters> = {},
): ProbeCounters {
  return {
    hits: 0,
    filtered: 0,
    submitted: 0,
    bytes: 0,
    ringFull: 0,
    readFaults: 0,
    oversize: 0,
    ...set,
  };
}

/**
 * Drops by reason: every reason 0 but those in `set`. The reasons are
 * written out here, not taken from src/, so that a test comparing a queue's
 * counters with this also checks which reasons it counts.
 */
export function droppedBy(
  set: Partial<Record<DropReason, number>> = {},
): Record<DropReason, number> {
  return {
    queue_full: 0,
    too_large: 0,
    export_failed: 0,
    rejected: 0,
    shutdown: 0,
    in_flight: 0,
    ...set,
  };
}

/** A ControllerStats with every counter the telemetry reads set. */
export function testStats(): ControllerStats {
  return {
    binaries: 2,
    processes: 3,
    probe: {
      hits: 60,
      filtered: 0,
      submitted: 55,
      bytes: 5500,
      ringFull: 4,
      readFaults: 1,
      oversize: 0,
    },
    decode: {
      records: 54,
      bytes: 5400,
      spans: 1000,
      logRecords: 300,
      unsequenced: 0,
      corrupt: 1,
      corruptBy: { bad_protobuf: 1 } as ControllerStats["decode"]["corruptBy"],
    },
    export: {
      received: 1000,
      exported: 900,
      dropped: 40,
      droppedBy: {
        queue_full: 10,
        too_large: 0,
        export_failed: 20,
        rejected: 5,
        shutdown: 3,
        in_flight: 2,
      },
      queued: 50,
      queuedBytes: 5000,
      inFlight: 10,
    },
    logExport: {
      received: 300,
      exported: 280,
      dropped: 12,
      droppedBy: {
        queue_full: 7,
        too_large: 0,
        export_failed: 4,
        rejected: 0,
        shutdown: 1,
        in_flight: 0,
      },
      queued: 6,
      queuedBytes: 600,
      inFlight: 2,
    },
    batchLoss: {
      lost: 6,
      lostByService: { checkout: 4, cart: 1, _other: 1 },
      processes: 3,
      late: 0,
      reordered: 0,
    },
  };
}
