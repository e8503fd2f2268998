import assert from "node:assert/strict";
import type { ExportOutcome, SpanExporter } from "../export/mod.ts";
import {
  sampleBatch,
  sampleSpans,
  sampleTraces,
} from "../../testing/traces.ts";
import { type ExportCall, ExportWatch } from "./export_watch.ts";

function scripted(
  outcomes: ExportOutcome[],
  clock: { t: number },
): SpanExporter {
  return {
    export: () => {
      clock.t += 250;
      return Promise.resolve(outcomes.shift()!);
    },
    shutdown: () => Promise.resolve(),
  };
}

Deno.test("ExportWatch times calls and remembers since when exports fail", async () => {
  const clock = { t: 1_000 };
  const calls: ExportCall[] = [];
  const watch = new ExportWatch((c) => calls.push(c), () => clock.t);
  const failure = new Error("connect ECONNREFUSED");
  const exporter = watch.wrap(scripted([
    { ok: true, rejected: 0 },
    { ok: false, error: failure, retryable: true },
    { ok: false, error: failure, retryable: false },
    { ok: true, rejected: 1 },
  ], clock))!;
  const batch = sampleBatch(sampleTraces(sampleSpans(3)));

  assert.equal(watch.failingSince(), undefined);
  await exporter.export(batch);
  assert.equal(watch.failingSince(), undefined);
  await exporter.export(batch); // starts at 1250
  assert.equal(watch.failingSince(), 1_250);
  await exporter.export(batch);
  assert.equal(watch.failingSince(), 1_250, "the first failure is kept");
  await exporter.export(batch);
  assert.equal(
    watch.failingSince(),
    undefined,
    "a partial refusal is an answer",
  );

  assert.deepEqual(calls, [
    { seconds: 0.25, spans: 3 },
    { seconds: 0.25, spans: 3, errorType: "retryable" },
    { seconds: 0.25, spans: 3, errorType: "refused" },
    { seconds: 0.25, spans: 3 },
  ]);
});

Deno.test("ExportWatch leaves no exporter alone and passes shutdown through", async () => {
  const watch = new ExportWatch();
  assert.equal(watch.wrap(undefined), undefined);
  let shut = false;
  await watch.wrap({
    export: () => Promise.resolve({ ok: true, rejected: 0 }),
    shutdown: () => {
      shut = true;
      return Promise.resolve();
    },
  })!.shutdown();
  assert.ok(shut);
});
