/**
 * Controller counters for the telemetry tests.
 *
 * @module
 */
import type { ControllerStats } from "../controller/controller.ts";

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
      corrupt: 1,
      lost: 0,
    } as ControllerStats["decode"],
    export: {
      received: 1000,
      exported: 900,
      dropped: 40,
      droppedBy: {
        queue_full: 10,
        export_failed: 20,
        rejected: 5,
        shutdown: 5,
      },
      queued: 50,
      inFlight: 10,
    },
  };
}
