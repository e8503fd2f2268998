import assert from "node:assert/strict";
import type { Exporter, ExportOutcome } from "../export/mod.ts";
import {
  sampleBatch,
  sampleSpans,
  sampleTraces,
} from "../../testing/traces.ts";
import { type ExportCall, ExportWatch } from "./export_watch.ts";

function scripted(
  outcomes: ExportOutcome[],
  clock: { t: number },
): Exporter {
  return {
    export: () => {
      clock.t += 250;
      return Promise.resolve(outcomes.shift()!);
    },
    shutdown: () => Promise.resolve(),
  };
}

Deno.test("ExportWatch times calls and remembers, per signal, since when exports fail", async () => {
  const clock = { t: 1_000 };
  const calls: ExportCall[] = [];
  const watch = new ExportWatch((c) => calls.push(c), () => clock.t);
  const failure = new Error("connect ECONNREFUSED");
  const spans = watch.wrap(
    scripted([
      { ok: true, rejected: 0 },
      { ok: false, error: failure, retryable: true },
      { ok: false, error: failure, retryable: false },
      { ok: true, rejected: 1 },
    ], clock),
    "traces",
    "otlp_http_span_exporter",
  )!;
  const logs = watch.wrap(
    scripted([{ ok: false, error: failure, retryable: true }], clock),
    "logs",
    "otlp_grpc_log_exporter",
  )!;
  const batch = sampleBatch(sampleTraces(sampleSpans(3)));
  const failing = () => Object.fromEntries(watch.failing());

  assert.deepEqual(failing(), {});
  await spans.export(batch);
  assert.deepEqual(failing(), {});
  await spans.export(batch); // starts at 1250
  assert.deepEqual(failing(), { traces: 1_250 });
  await logs.export(batch); // starts at 1500
  await spans.export(batch);
  assert.deepEqual(
    failing(),
    { traces: 1_250, logs: 1_500 },
    "the first failure of each signal is kept",
  );
  await spans.export(batch);
  assert.deepEqual(
    failing(),
    { logs: 1_500 },
    "a partial refusal is an answer, for its signal only",
  );

  const span = "otlp_http_span_exporter";
  assert.deepEqual(calls, [
    { component: span, seconds: 0.25, items: 3 },
    { component: span, seconds: 0.25, items: 3, errorType: "retryable" },
    {
      component: "otlp_grpc_log_exporter",
      seconds: 0.25,
      items: 3,
      errorType: "retryable",
    },
    { component: span, seconds: 0.25, items: 3, errorType: "refused" },
    { component: span, seconds: 0.25, items: 3 },
  ]);
});

Deno.test("ExportWatch leaves no exporter alone and passes shutdown through", async () => {
  const watch = new ExportWatch();
  assert.equal(watch.wrap(undefined, "logs", "console"), undefined);
  let shut = false;
  await watch.wrap(
    {
      export: () => Promise.resolve({ ok: true, rejected: 0 }),
      shutdown: () => {
        shut = true;
        return Promise.resolve();
      },
    },
    "traces",
    "otlp_http_span_exporter",
  )!.shutdown();
  assert.ok(shut);
});
