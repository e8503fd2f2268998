import assert from "node:assert/strict";
import { formatStatus } from "./status.ts";
import type { ControllerStats } from "../controller/controller.ts";

function stats(
  spans: number,
  exported: number,
  dropped: number,
  ringFull = 0,
): ControllerStats {
  return {
    binaries: 1,
    processes: 2,
    probe: {
      hits: 0,
      filtered: 0,
      submitted: 0,
      bytes: 0,
      ringFull,
      readFaults: 0,
      oversize: 0,
    },
    decode: { records: 0, bytes: 0, spans, corrupt: 0, corruptBy: {}, lost: 0 },
    export: {
      received: spans,
      exported,
      dropped,
      droppedBy: {},
      queued: 0,
      inFlight: 0,
    },
  } as unknown as ControllerStats;
}

Deno.test("formatStatus shows targets, the span rate, exported, dropped and kernel losses", () => {
  const line = formatStatus(
    stats(3000, 2500, 10, 4),
    stats(1000, 900, 0),
    2000,
  );
  assert.equal(
    line,
    "binaries 1 · processes 2 · 1000 spans/s · received 3000 · exported 2500 · dropped 10 · records lost 4",
  );
});

Deno.test("formatStatus shows a rate of 0 before it has two snapshots", () => {
  assert.match(formatStatus(stats(5, 5, 0), undefined, 0), / 0 spans\/s /);
});
