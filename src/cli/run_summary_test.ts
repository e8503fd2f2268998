import assert from "node:assert/strict";
import { summaryFields } from "./run.ts";
import type { ControllerStats } from "../controller/mod.ts";
import { DROP_REASONS } from "../export/mod.ts";

/** Counters with nothing lost; each test sets what it looks at. */
function testStats(): ControllerStats {
  return {
    probe: { ringFull: 0, oversize: 0, readFaults: 0 },
    decode: { spans: 0, logRecords: 0, corrupt: 0, corruptBy: {} },
    export: { exported: 0, dropped: 0, droppedBy: {} },
    logExport: { exported: 0, dropped: 0, droppedBy: {} },
    batchLoss: {
      lost: 0,
      lostByService: {},
      processes: 0,
      late: 0,
      reordered: 0,
    },
  } as unknown as ControllerStats;
}

Deno.test("the stopped line names the ten services that lost the most batches, the rest as _other", () => {
  const stats = testStats();
  const byService: Record<string, number> = { _other: 3 };
  for (let i = 1; i <= 12; i++) byService[`svc-${i}`] = i;
  stats.batchLoss = {
    lost: 81,
    lostByService: byService,
    processes: 13,
    late: 0,
    reordered: 0,
  };
  const fields = summaryFields(stats, 1000);
  assert.equal(fields.batchesLost, 81);
  const named = fields.batchesLostByService as Record<string, number>;
  assert.deepEqual(Object.keys(named).length, 11);
  assert.equal(named["svc-12"], 12);
  assert.equal(named["svc-3"], 3);
  assert.equal(named["svc-2"], undefined);
  // svc-1, svc-2 and what the controller already counted as other.
  assert.equal(named._other, 1 + 2 + 3);
});

Deno.test("the stopped line says batchesLost 0 and no services when nothing was lost", () => {
  const stats = testStats();
  const fields = summaryFields(stats, 1000);
  assert.equal(fields.batchesLost, 0);
  assert.equal("batchesLostByService" in fields, false);
  assert.equal("batchesReordered" in fields, false);
  assert.equal("batchesLate" in fields, false);
});

Deno.test("the stopped line has one dropped<Reason> count per drop reason, in DROP_REASONS' order", () => {
  const stats = testStats();
  stats.export.droppedBy = Object.fromEntries(
    DROP_REASONS.map(({ reason }, i) => [reason, i + 1]),
  ) as ControllerStats["export"]["droppedBy"];
  const fields = summaryFields(stats, 1000);
  const dropped = Object.entries(fields).filter(([k]) =>
    /^dropped[A-Z]/.test(k)
  );
  assert.deepEqual(dropped, [
    ["droppedQueueFull", 1],
    ["droppedTooLarge", 2],
    ["droppedExportFailed", 3],
    ["droppedRejected", 4],
    ["droppedShutdown", 5],
    ["droppedInFlight", 6],
  ]);
});

Deno.test("the stopped line counts log records apart, in logs, with the same fields as spans", () => {
  const stats = testStats();
  stats.decode.spans = 10;
  stats.export.exported = 10;
  stats.decode.logRecords = 7;
  stats.logExport.exported = 4;
  stats.logExport.dropped = 3;
  stats.logExport.droppedBy = Object.fromEntries(
    DROP_REASONS.map(({ reason }) => [reason, reason === "queue_full" ? 3 : 0]),
  ) as ControllerStats["export"]["droppedBy"];
  const fields = summaryFields(stats, 1000);
  assert.deepEqual([fields.received, fields.exported], [10, 10]);
  const logs = fields.logs as Record<string, number>;
  assert.deepEqual(
    [logs.received, logs.exported, logs.dropped, logs.droppedQueueFull],
    [7, 4, 3, 3],
  );
  assert.equal(logs.received, logs.exported + logs.dropped);
  assert.deepEqual(
    Object.keys(logs).filter((k) => k.startsWith("dropped")),
    Object.keys(fields).filter((k) => k.startsWith("dropped")),
  );
});

Deno.test("the stopped line counts sampled-out spans apart, so received = exported + dropped + sampledOut", () => {
  const stats = testStats();
  stats.decode.spans = 10;
  stats.export.exported = 6;
  stats.export.dropped = 1;
  stats.sampling = { sampledOut: 3 };
  const fields = summaryFields(stats, 1000);
  assert.equal(fields.sampledOut, 3);
  assert.equal(
    fields.received,
    (fields.exported as number) + (fields.dropped as number) +
      (fields.sampledOut as number),
  );
  // A snapshot without a controller: nothing sampled out.
  delete stats.sampling;
  assert.equal(summaryFields(stats, 1000).sampledOut, 0);
});
