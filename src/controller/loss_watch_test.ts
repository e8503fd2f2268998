import assert from "node:assert/strict";
import { LossWatch } from "./loss_watch.ts";
import { createLogger } from "../log.ts";
import { probeCounters } from "../../testing/controller_stats.ts";

const zero = probeCounters();

Deno.test("LossWatch warns once per kind of new loss, with the count and advice", () => {
  const lines: string[] = [];
  const watch = new LossWatch(
    createLogger({ format: "json", write: (l) => lines.push(l) }),
  );
  watch.check(zero);
  watch.check({ ...zero, hits: 10, submitted: 10 });
  assert.equal(lines.length, 0);
  watch.check({ ...zero, hits: 20, submitted: 12, ringFull: 7, oversize: 1 });
  assert.equal(lines.length, 2);
  const [full, over] = lines.map((l) => JSON.parse(l));
  assert.equal(full.reason, "ringFull");
  assert.equal(full.records, 7);
  assert.match(full.msg, /--ring-size/);
  assert.equal(over.reason, "oversize");
  watch.check({ ...zero, hits: 20, submitted: 12, ringFull: 7, oversize: 1 });
  assert.equal(lines.length, 2, "no new loss, no new warning");
});

Deno.test("LossWatch reports losses counted before it started (an adopted probe)", () => {
  const lines: string[] = [];
  const watch = new LossWatch(
    createLogger({ format: "json", write: (l) => lines.push(l) }),
  );
  watch.check({ ...zero, hits: 50, submitted: 20, ringFull: 30 });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.match(line.msg, /before this controller started/);
  assert.deepEqual([line.reason, line.records], ["ringFull", 30]);
  watch.check({ ...zero, hits: 50, submitted: 20, ringFull: 30 });
  assert.equal(lines.length, 1);
});

Deno.test("LossWatch warns about corrupt records at once, then once per reason and interval with the count", () => {
  const lines: string[] = [];
  const watch = new LossWatch(
    createLogger({ format: "json", write: (l) => lines.push(l) }),
  );
  for (let i = 0; i < 5; i++) watch.corrupt("bad_magic", `magic ${i}`);
  watch.corrupt("bad_protobuf", "not protobuf");
  const got = lines.map((l) => JSON.parse(l));
  assert.deepEqual(got.map((l) => [l.reason, l.records]), [
    ["bad_magic", 1],
    ["bad_protobuf", 1],
  ]);
  assert.match(got[0].msg, /corrupt records dropped: magic 0/);
});

Deno.test("LossWatch names the processes that lost the most batches, and how many more did", () => {
  const lines: string[] = [];
  const watch = new LossWatch(
    createLogger({ format: "json", write: (l) => lines.push(l) }),
  );
  watch.batches([]);
  assert.equal(lines.length, 0);
  const losses = [9, 7, 5, 3, 2, 1].map((batches, i) => ({
    pid: 100 + i,
    service: `svc-${i}`,
    batches,
  }));
  watch.batches(losses);
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, "warn");
  assert.equal(line.batches, 27);
  assert.deepEqual(line.byProcess, losses.slice(0, 5));
  assert.equal(line.otherProcesses, 1);
});
