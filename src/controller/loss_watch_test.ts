import assert from "node:assert/strict";
import { LossWatch } from "./loss_watch.ts";
import { createLogger } from "../log.ts";
import type { ProbeCounters } from "../probe/mod.ts";

const zero: ProbeCounters = {
  hits: 0,
  filtered: 0,
  submitted: 0,
  bytes: 0,
  ringFull: 0,
  readFaults: 0,
  oversize: 0,
};

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
