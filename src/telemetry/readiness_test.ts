import assert from "node:assert/strict";
import type { ControllerStats } from "../controller/mod.ts";
import { readiness, RingWatch } from "./readiness.ts";

const stats = {
  decode: { records: 7, corrupt: 0 },
  probe: { submitted: 7 },
} as ControllerStats;
const healthy = { failing: () => new Map() };

Deno.test("readiness waits for the probe", () => {
  const r = readiness(undefined, new RingWatch(), healthy, 1_000, 0);
  assert.equal(r.ready, false);
  assert.deepEqual(r.checks.map((c) => [c.name, c.ok]), [["probe", false], [
    "export",
    true,
  ]]);
});

Deno.test("readiness is ready with a readable ring and working export", () => {
  const r = readiness(
    { stats: () => stats },
    new RingWatch(),
    healthy,
    1_000,
    0,
  );
  assert.equal(r.ready, true);
  assert.equal(r.checks[1].detail, "read (7 records)");
});

Deno.test("readiness fails when the probe's maps cannot be read", () => {
  const r = readiness(
    {
      stats: () => {
        throw new Error("bpf_map_lookup_elem failed: EBADF");
      },
    },
    new RingWatch(),
    healthy,
    1_000,
    0,
  );
  assert.equal(r.ready, false);
  assert.match(r.checks[1].detail, /EBADF/);
});

Deno.test("readiness tolerates export failures up to the threshold", () => {
  const failing = { failing: () => new Map([["logs" as const, 10_000]]) };
  assert.equal(
    readiness({ stats: () => stats }, new RingWatch(), failing, 5_000, 14_999)
      .ready,
    true,
  );
  const late = readiness(
    { stats: () => stats },
    new RingWatch(),
    failing,
    5_000,
    15_000,
  );
  assert.equal(late.ready, false);
  assert.equal(
    late.checks[2].detail,
    "logs failing for 5.0 s (not ready after 5 s)",
  );
});

function counters(
  submitted: number,
  read: number,
  corrupt = 0,
): ControllerStats {
  return {
    decode: { records: read, corrupt },
    probe: { submitted },
  } as ControllerStats;
}

Deno.test("RingWatch fails only when records wait while the reader takes none", () => {
  const ring = new RingWatch(5_000);
  assert.equal(ring.check(counters(10, 10), 0).ok, true);
  // Nothing new submitted: an idle ring is fine, however long.
  assert.equal(ring.check(counters(10, 10), 60_000).ok, true);
  // Records arrive and are read (corrupt ones count as read).
  assert.equal(ring.check(counters(20, 19, 1), 61_000).ok, true);
  // Records arrive, none is read: fine for 5 s, then not.
  assert.equal(ring.check(counters(25, 19, 1), 65_000).ok, true);
  const stalled = ring.check(counters(30, 19, 1), 66_001);
  assert.equal(stalled.ok, false);
  assert.equal(
    stalled.detail,
    "no record read for 5.0 s while 10 were submitted",
  );
  // The reader moves again.
  assert.equal(ring.check(counters(30, 30, 1), 67_000).ok, true);
});

Deno.test("RingWatch compares progress, not totals (an adopted probe's earlier records)", () => {
  const ring = new RingWatch(1_000);
  assert.equal(ring.check(counters(5_000, 0), 0).ok, true);
  assert.equal(ring.check(counters(5_000, 0), 10_000).ok, true);
});

Deno.test("readiness says not ready, with the reason, while discovery lags", () => {
  const discovery = {
    reads: 10,
    cacheHits: 90,
    queued: 0,
    oldestQueuedMs: 0,
    droppedReads: 0,
    execEventsLost: 0,
    untraced: 0,
  };
  const judge = (d: typeof discovery & { lagging?: string }) =>
    readiness(
      { stats: () => ({ ...stats, discovery: d }) },
      new RingWatch(),
      healthy,
      1_000,
      0,
    );
  const ok = judge(discovery);
  assert.equal(ok.ready, true);
  assert.deepEqual(ok.checks.find((c) => c.name === "discovery"), {
    name: "discovery",
    ok: true,
    detail: "keeping up (10 binaries read, 0 waiting)",
  });
  const lagging = judge({
    ...discovery,
    execEventsLost: 120,
    lagging: "120 exec events lost (the ring was full)",
  });
  assert.equal(lagging.ready, false);
  assert.deepEqual(lagging.checks.find((c) => c.name === "discovery"), {
    name: "discovery",
    ok: false,
    detail: "lagging: 120 exec events lost (the ring was full)",
  });
});
