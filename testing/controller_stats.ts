/**
 * Controller counters for the telemetry tests.
 *
 * @module
 */
import type { ControllerStats } from "../src/controller/mod.ts";

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
