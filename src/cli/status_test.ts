import assert from "node:assert/strict";
import { formatStatus } from "./status.ts";
import type { ControllerStats } from "../controller/mod.ts";
import { probeCounters } from "../../testing/controller_stats.ts";

function stats(
  spans: number,
  exported: number,
  dropped: number,
  ringFull = 0,
): ControllerStats {
  return {
    binaries: 1,
    processes: 2,
    probe: probeCounters({ ringFull }),
    decode: {
      records: 0,
      bytes: 0,
      spans,
      logRecords: 0,
      corrupt: 0,
      corruptBy: {},
    },
    logExport: { exported: 0, dropped: 0 },
    export: {
      received: spans,
      exported,
      dropped,
      droppedBy: {},
      queued: 30,
      inFlight: 12,
    },
  } as unknown as ControllerStats;
}

Deno.test("formatStatus shows targets, the span rate, exported, queued, dropped and kernel losses", () => {
  const line = formatStatus(
    stats(3000, 2500, 10, 4),
    stats(1000, 900, 0),
    2000,
  );
  assert.equal(
    line,
    "binaries 1 · processes 2 · 1000 spans/s · received 3000 · exported 2500 · queued 42 · dropped 10 · records lost 4",
  );
});

Deno.test("formatStatus fits the terminal, keeping drops and losses longest", () => {
  const now = stats(3_000_000, 2_500_000, 100_000, 4000);
  const before = stats(1_000_000, 900_000, 0);
  for (const columns of [120, 80, 60, 40, 20, 8]) {
    const line = formatStatus(now, before, 2000, columns);
    assert.ok(line.length < columns, `${columns}: ${line}`);
  }
  assert.equal(
    formatStatus(now, before, 2000, 80),
    "1 bin 2 proc 1000000/s rcv 3000000 exp 2500000 q 42 drop 100000 lost 4000",
  );
  assert.equal(
    formatStatus(now, before, 2000, 40),
    "1000000/s drop 100000 lost 4000",
  );
});

Deno.test("formatStatus shows a rate of 0 before it has two snapshots", () => {
  assert.match(formatStatus(stats(5, 5, 0), undefined, 0), / 0 spans\/s /);
});

Deno.test("formatStatus shows log records exported and dropped once any came", () => {
  const quiet = formatStatus(stats(10, 10, 0), undefined, 1000);
  assert.equal(quiet.includes("logs"), false);
  const now = stats(10, 10, 0);
  now.decode.logRecords = 50;
  now.logExport.exported = 45;
  now.logExport.dropped = 5;
  const line = formatStatus(now, undefined, 1000);
  assert.ok(line.includes("logs exported 45 · logs dropped 5"), line);
});

Deno.test("formatStatus shows sampled-out spans only when there are some", () => {
  const now = stats(100, 50, 0);
  assert.doesNotMatch(formatStatus(now, undefined, 1000), /sampled/);
  now.sampling = { sampledOut: 40 };
  assert.match(formatStatus(now, undefined, 1000), / · sampled out 40/);
});
