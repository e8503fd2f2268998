import assert from "node:assert/strict";
import type { ControllerStats } from "../controller/controller.ts";
import { readiness } from "./readiness.ts";

const stats = { decode: { records: 7 } } as ControllerStats;
const healthy = { failingSince: () => undefined };

Deno.test("readiness waits for the probe", () => {
  const r = readiness(undefined, healthy, 1_000, 0);
  assert.equal(r.ready, false);
  assert.deepEqual(r.checks.map((c) => [c.name, c.ok]), [["probe", false], [
    "export",
    true,
  ]]);
});

Deno.test("readiness is ready with a readable ring and working export", () => {
  const r = readiness({ stats: () => stats }, healthy, 1_000, 0);
  assert.equal(r.ready, true);
  assert.match(r.checks[1].detail, /7 records read/);
});

Deno.test("readiness fails when the probe's maps cannot be read", () => {
  const r = readiness(
    {
      stats: () => {
        throw new Error("bpf_map_lookup_elem failed: EBADF");
      },
    },
    healthy,
    1_000,
    0,
  );
  assert.equal(r.ready, false);
  assert.match(r.checks[1].detail, /EBADF/);
});

Deno.test("readiness tolerates export failures up to the threshold", () => {
  const failing = { failingSince: () => 10_000 };
  assert.equal(
    readiness({ stats: () => stats }, failing, 5_000, 14_999).ready,
    true,
  );
  const late = readiness({ stats: () => stats }, failing, 5_000, 15_000);
  assert.equal(late.ready, false);
  assert.equal(
    late.checks[2].detail,
    "failing for 5.0 s (not ready after 5 s)",
  );
});
