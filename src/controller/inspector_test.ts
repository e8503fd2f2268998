import assert from "node:assert/strict";
import type { TargetBinary } from "../process/mod.ts";
import { execName, fileName, Inspector, Priority } from "./inspector.ts";

const sdk = { endedOffset: 0x1234 } as TargetBinary;

/** A read the test finishes by hand, counting how often it started. */
function manualRead() {
  let started = 0;
  const finishers: ((v: TargetBinary | null | undefined) => void)[] = [];
  return {
    read: () => {
      started++;
      return new Promise<TargetBinary | null | undefined>((r) =>
        finishers.push(r)
      );
    },
    started: () => started,
    finish: (v: TargetBinary | null | undefined) => finishers.shift()!(v),
  };
}

Deno.test("a binary is read once under all its names, and later asks are answered from memory", async () => {
  const inspector = new Inspector({ slots: 1 });
  const r = manualRead();
  const names = ["file:1:2:v", "exec:1:2:0:3:4"];
  const first = inspector.inspect(names, Priority.wanted, r.read);
  // Asked again by either name while it is read: the same read.
  const byFile = inspector.inspect([names[0]], Priority.wanted, r.read);
  assert.ok(inspector.known(names[1]) instanceof Promise);
  r.finish(null);
  assert.equal(await first, null);
  assert.equal(await byFile, null);
  // Done: known without a read, by both names.
  assert.equal(inspector.known(names[1]), null);
  assert.equal(
    await inspector.inspect([names[0], "exec:other"], Priority.wanted, r.read),
    null,
  );
  assert.equal(inspector.known("exec:other"), null, "a new name is remembered");
  assert.equal(r.started(), 1);
  assert.equal(inspector.counters().reads, 1);
});

Deno.test("a read that finds nothing to judge is not remembered", async () => {
  const inspector = new Inspector();
  assert.equal(
    await inspector.inspect(
      ["a"],
      Priority.wanted,
      () => Promise.resolve(undefined),
    ),
    undefined,
  );
  assert.equal(inspector.known("a"), undefined);
});

Deno.test("waiting reads run most urgent first, then in order", async () => {
  const inspector = new Inspector({ slots: 1 });
  const order: string[] = [];
  const r = manualRead();
  const busy = inspector.inspect(["busy"], Priority.wanted, r.read);
  const job = (name: string, p: Priority) =>
    inspector.inspect([name], p, () => {
      order.push(name);
      return Promise.resolve(name === "sdk" ? sdk : null);
    });
  const all = [
    job("gone-1", Priority.ruleOut),
    job("small-1", Priority.wanted),
    job("sdk", Priority.likelySdk),
    job("small-2", Priority.wanted),
  ];
  assert.equal(inspector.counters().queued, 4);
  r.finish(null);
  await busy;
  await Promise.all(all);
  assert.deepEqual(order, ["sdk", "small-1", "small-2", "gone-1"]);
});

Deno.test("a full queue drops its least urgent, newest job, and counts it", async () => {
  const inspector = new Inspector({ slots: 1, queueLimit: 2 });
  const r = manualRead();
  const busy = inspector.inspect(["busy"], Priority.wanted, r.read);
  const read = () => Promise.resolve(null);
  const a = inspector.inspect(["a"], Priority.ruleOut, read);
  const b = inspector.inspect(["b"], Priority.ruleOut, read);
  // More urgent: b (least urgent, newest) goes.
  const c = inspector.inspect(["c"], Priority.likelySdk, read);
  assert.equal(await b, undefined);
  // As urgent as the least urgent waiting: the new one goes.
  const d = inspector.inspect(["d"], Priority.ruleOut, read);
  assert.equal(await d, undefined);
  assert.equal(inspector.counters().dropped, 2);
  assert.equal(inspector.known("b"), undefined, "a dropped job is forgotten");
  r.finish(null);
  await busy;
  assert.equal(await a, null);
  assert.equal(await c, null);
});

Deno.test("the verdicts remembered are bounded, least recently used first", () => {
  const inspector = new Inspector({ cacheLimit: 2 });
  inspector.remember("a", null);
  inspector.remember("b", sdk);
  inspector.known("a");
  inspector.remember("c", null);
  assert.equal(inspector.known("b"), undefined);
  assert.equal(inspector.known("a"), null);
  assert.equal(inspector.known("c"), null);
});

Deno.test("the age of the oldest waiting read is reported", () => {
  let now = 1_000;
  const inspector = new Inspector({ slots: 1, now: () => now });
  const r = manualRead();
  inspector.inspect(["busy"], Priority.wanted, r.read);
  inspector.inspect(["late"], Priority.ruleOut, r.read);
  now = 3_500;
  assert.deepEqual(
    {
      queued: inspector.counters().queued,
      oldestMs: inspector.counters().oldestMs,
    },
    { queued: 1, oldestMs: 2_500 },
  );
});

Deno.test("names tell the kernel's identity and a stat apart", () => {
  const exec = execName({
    dev: 3,
    ino: 4n,
    generation: 5,
    ctimeSec: 6n,
    ctimeNsec: 7,
  });
  assert.equal(exec, "exec:3:4:5:6:7");
  assert.equal(
    fileName({ dev: 3, ino: 4, version: "6000:6000:10" }),
    "file:3:4:6000:6000:10",
  );
});

Deno.test("a read that fails rejects its askers, leaves no unhandled rejection, and is not remembered", async () => {
  const inspector = new Inspector({ slots: 1 });
  const r = manualRead();
  const first = inspector.inspect(["a"], Priority.wanted, r.read);
  // Asked again under a new name while it is read: an alias of the read.
  const second = inspector.inspect(["a", "b"], Priority.wanted, r.read);
  const failure = new Error("cannot read");
  // The manual read resolves; make this one fail instead.
  r.finish(Promise.reject(failure) as never);
  await assert.rejects(first, failure);
  await assert.rejects(second, failure);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(inspector.known("a"), undefined);
  assert.equal(inspector.known("b"), undefined);
});
