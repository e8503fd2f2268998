/**
 * Sampling per workload, end to end: one controller traces three copies of
 * the showcase, each under its own `--sample` ratio chosen by executable
 * glob. Ratio 0 keeps none of its spans, ratio 1 keeps all of them (span by
 * span), and the default ratio 0.5 keeps exactly the spans of the traces
 * whose ids pass the SDK's rule (the low 56 bits of the trace id below
 * 2^55), every one of them as the program made it; the `stopped` line
 * counts the rest as sampledOut, not as dropped, and balances.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
  waitForSpans,
} from "../testing/harness.ts";
import { collectingReceiver } from "../testing/receiver.ts";
import {
  assertSpans,
  recordShowcase,
  type ShowcaseRecord,
} from "../testing/assert_spans.ts";

/**
 * Whether ratio 0.5 keeps the trace `traceId` (32 hex digits): written out
 * here rather than taken from src/, so the test checks the controller
 * against the rule itself (go/sdk/sampler.go: low 56 bits < ratio * 2^56).
 */
function keptAtHalf(traceId: string): boolean {
  return BigInt(`0x${traceId.slice(18)}`) < 2n ** 55n;
}

/** `record` with only the spans of the traces `keep` keeps. */
function only(
  record: ShowcaseRecord,
  keep: (traceId: string) => boolean,
): ShowcaseRecord {
  return { ...record, spans: record.spans.filter((s) => keep(s.traceId)) };
}

Deno.test({
  name:
    "--sample keeps none of a ratio-0 executable's spans, all of a ratio-1 one's, and exactly the rule's traces at 0.5",
  ignore: !ebpfAvailable("sampling e2e"),
  async fn() {
    const receiver = await collectingReceiver();
    const none = await copyProgram("showcase");
    const all = await copyProgram("showcase");
    const half = await copyProgram("showcase");
    const pinRoot = testPinRoot("sampling");
    const recordFile = await Deno.makeTempFile({ suffix: ".json" });
    const controller = new ControllerProcess(
      [
        "run",
        ...[none, all, half].flatMap((p) => ["--target", p.exe]),
        "--pin-root",
        pinRoot,
        "--instance",
        "sampling-e2e",
        "--no-status",
        "--log-level",
        "debug",
        "--sample",
        `exe:${none.dir}/*=0`,
        "--sample",
        `exe:${all.dir}/**=1`,
        "--sample",
        "0.5",
      ],
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    );
    try {
      // Each copy's ratio is chosen by its executable, which the
      // controller reads from /proc once exec events are watched: a
      // process that exits before it is described has only its pid, and
      // the default ratio.
      await controller.waitFor("watching for new processes");
      const dropped = await recordShowcase(none.exe, recordFile);
      const kept = await recordShowcase(all.exe, recordFile);
      // Several runs: new trace ids each time, so some pass the rule and
      // some do not.
      const sampled: ShowcaseRecord[] = [];
      for (let i = 0; i < 4; i++) {
        sampled.push(await recordShowcase(half.exe, recordFile));
      }
      const halfSpans = sampled.flatMap((r) => r.spans);
      const halfKept = halfSpans.filter((s) => keptAtHalf(s.traceId));
      assert.ok(
        halfKept.length > 0 && halfKept.length < halfSpans.length,
        `the showcase's ${halfSpans.length} spans at 0.5 were all kept or all dropped: rerun`,
      );
      const expected = kept.spans.length + halfKept.length;
      await waitForSpans(receiver, expected, 10_000, "the sampled spans", {
        controller,
      });

      const status = await controller.stop();
      assert.equal(status.code, 0, controller.dump());
      const s = await controller.waitFor("stopped") as Record<string, number>;
      const made = dropped.spans.length + kept.spans.length + halfSpans.length;
      assert.equal(s.received, made, controller.dump());
      assert.equal(s.exported, expected);
      assert.equal(s.dropped, 0);
      assert.equal(s.sampledOut, made - expected);
      assert.equal(s.received, s.exported + s.dropped + s.sampledOut);
      assert.equal(s.recordsLost, 0);
      assert.equal(receiver.spans.length, expected, "spans beyond the rule's");

      // Which process each received span came from, by span id (ids are
      // random per run, so they tell the three copies apart).
      const from = (records: ShowcaseRecord[]) => {
        const ids = new Set(
          records.flatMap((r) => r.spans.map((x) => x.spanId)),
        );
        return receiver.spans.filter((r) => ids.has(r.span.spanId));
      };
      assert.deepEqual(from([dropped]), [], "ratio 0 let spans through");
      assertSpans(kept, from([kept]), "protobuf");
      for (const record of sampled) {
        assertSpans(only(record, keptAtHalf), from([record]), "protobuf");
      }
    } finally {
      await stopIfRunning(controller);
      await receiver.close();
      await Promise.all([none, all, half].map((p) => p.remove()));
      await Deno.remove(recordFile).catch(() => {});
      await removePinRoot(pinRoot);
    }
  },
});
