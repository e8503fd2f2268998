import assert from "node:assert/strict";
import type { StoppedCounters } from "./controller.ts";
import { lossless, lossRatio, maxRate, type Step } from "./step.ts";

/** A step of 1000 spans and 1000 log records at `rate`, all delivered. */
function step(
  rate: number,
  achieved: number,
  counters: Partial<StoppedCounters> = {},
): Step {
  return {
    rate,
    achieved,
    sent: 2000,
    sentSpans: 1000,
    sentLogs: 1000,
    counters: {
      received: 1000,
      exported: 1000,
      dropped: 0,
      recordsLost: 0,
      recordsCorrupt: 0,
      logsReceived: 1000,
      logsExported: 1000,
      logsDropped: 0,
      ...counters,
    },
    cpuSeconds: 1,
    peakMiB: 50,
    receiverBytes: 1 << 20,
    receiverCpuSeconds: 0.1,
  };
}

Deno.test("lossless needs every span and log record exported, none dropped, lost or corrupt", () => {
  assert.equal(lossless(step(100_000, 100_000)), true);
  for (
    const spoiled of [
      { exported: 999, dropped: 1 },
      { logsExported: 999, logsDropped: 1 },
      { logsReceived: 999, logsExported: 999 },
      { recordsLost: 1 },
      { recordsCorrupt: 1 },
    ]
  ) {
    assert.equal(
      lossless(step(100_000, 100_000, spoiled)),
      false,
      JSON.stringify(spoiled),
    );
  }
  assert.equal(
    lossless({ ...step(100_000, 100_000), counters: undefined }),
    false,
    "the controller failed",
  );
});

Deno.test("maxRate is the rate offered, or the one made when the load program fell more than 1% short", () => {
  assert.equal(maxRate(undefined), 0);
  assert.equal(maxRate(step(400_000, 396_500)), 400_000);
  assert.equal(maxRate(step(400_000, 350_000)), 350_000);
});

Deno.test("lossRatio counts spans and log records not exported, and all of them when the controller failed", () => {
  assert.equal(lossRatio(step(1, 1)), 0);
  assert.equal(lossRatio(step(1, 1, { logsExported: 500 })), 0.25);
  assert.equal(lossRatio({ ...step(1, 1), counters: undefined }), 1);
});
