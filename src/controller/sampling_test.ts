import assert from "node:assert/strict";
import { OtlpBatch } from "../otlp/mod.ts";
import { sampleSpans, sampleTraces } from "../../testing/traces.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import type { ProcessMeta } from "../export/mod.ts";
import { Sampler, selects } from "./sampling.ts";

/** A batch of one span per top byte in `tops` (< 0x80: kept at ratio 0.5), releases counted in `released`. */
function batchOf(tops: number[], released: { n: number }): OtlpBatch {
  const spans = sampleSpans(tops.length).map((s, i) => {
    s.traceId = new Uint8Array(16);
    s.traceId[9] = tops[i];
    s.traceId[15] = i;
    return s;
  });
  const batch = OtlpBatch.fromTracesData(sampleTraces(spans));
  return new OtlpBatch(batch.groups, batch.items, () => released.n++);
}

const app: ProcessMeta = { pid: 10, exePath: "/srv/app/bin/server" };
const worker: ProcessMeta = {
  pid: 11,
  exePath: "/usr/bin/worker",
  containerId: "3f2a9c0011",
};
const gone: ProcessMeta = { pid: 12 };

Deno.test("selects matches executables by glob and containers by prefix or glob", () => {
  assert.equal(selects({ exe: "/srv/**" }, app), true);
  assert.equal(selects({ exe: "/srv/*" }, app), false);
  assert.equal(selects({ container: "3f2a" }, worker), true);
  assert.equal(selects({ container: "*0011" }, worker), true);
  assert.equal(selects({ container: "3f2a" }, app), false);
  // A process described by its pid alone matches no rule.
  assert.equal(selects({ exe: "**" }, gone), false);
});

Deno.test("Sampler gives each process the first matching rule's ratio, chosen once, else the default", () => {
  const chosen: [number, number][] = [];
  const sampler = new Sampler({
    rules: [
      { selector: { container: "3f2a" }, ratio: 0 },
      { selector: { exe: "/usr/bin/*" }, ratio: 1 },
      { selector: { exe: "/srv/**" }, ratio: 0.25 },
    ],
    defaultRatio: 0.5,
  }, (meta, rule) => chosen.push([meta.pid, rule.ratio]));
  assert.equal(sampler.ruleFor(worker).ratio, 0);
  assert.equal(sampler.ruleFor(app).ratio, 0.25);
  assert.equal(sampler.ruleFor(gone).ratio, 0.5);
  sampler.ruleFor(app);
  assert.deepEqual(chosen, [[11, 0], [10, 0.25], [12, 0.5]]);
});

Deno.test("Sampler counts sampled-out spans, passes kept batches on and releases batches it drops whole", () => {
  const released = { n: 0 };
  const sampler = new Sampler({
    rules: [{ selector: { exe: "/srv/**" }, ratio: 0 }],
    defaultRatio: 0.5,
  });
  // All kept: the same batch, nothing counted.
  const all = batchOf([0, 0x10], released);
  assert.equal(sampler.apply(all, gone), all);
  // Mixed: a new batch of the kept spans; releasing it releases the source.
  const mixed = sampler.apply(batchOf([0, 0x90, 0xff], released), gone);
  assert.equal(mixed?.items, 1);
  assert.equal(released.n, 0);
  mixed!.release();
  assert.equal(released.n, 1);
  // None kept: released here, counted.
  assert.equal(sampler.apply(batchOf([0, 1, 2], released), app), undefined);
  assert.equal(released.n, 2);
  assert.deepEqual(sampler.counters(), { sampledOut: 2 + 3 });
  // No options: everything kept.
  const keepAll = new Sampler();
  const batch = batchOf([0xff], released);
  assert.equal(keepAll.apply(batch, app), batch);
  assert.deepEqual(keepAll.counters(), { sampledOut: 0 });
});

Deno.test("Sampler passes log batches on as they came: log records are not sampled", () => {
  const sampler = new Sampler({ rules: [], defaultRatio: 0 });
  const logs = OtlpBatch.fromLogsData(sampleLogs(sampleLogRecords(3)));
  assert.equal(sampler.apply(logs, app), logs);
  assert.deepEqual(sampler.counters(), { sampledOut: 0 });
});
