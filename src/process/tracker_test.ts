import assert from "node:assert/strict";
import { binary } from "../../testing/go_binaries.ts";
import type { ProcessInfo } from "./proc.ts";
import { ProcessTracker } from "./tracker.ts";

Deno.test("ProcessTracker looks a process up once and reports its exit", async () => {
  const path = await binary("sdk");
  const child = new Deno.Command(path, {
    args: ["30s"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const exited = Promise.withResolvers<ProcessInfo>();
  const tracker = new ProcessTracker({
    onExit: exited.resolve,
    intervalMs: 50,
  });
  let running = true;
  try {
    const [a, b] = await Promise.all([
      tracker.lookup(child.pid),
      tracker.lookup(child.pid),
    ]);
    assert.ok(a !== undefined);
    assert.equal(a, b);
    assert.equal(tracker.get(child.pid), a);
    assert.deepEqual(tracker.pids(), [child.pid]);
    child.kill();
    await child.status;
    running = false;
    const timeout = setTimeout(
      () => exited.reject(new Error("no exit reported in 2 s")),
      2000,
    );
    const gone = await exited.promise;
    clearTimeout(timeout);
    assert.equal(gone.pid, child.pid);
    assert.deepEqual(tracker.pids(), []);
  } finally {
    tracker.close();
    if (running) {
      child.kill();
      await child.status;
    }
  }
});

Deno.test("ProcessTracker returns undefined for a pid that is gone", async () => {
  const child = new Deno.Command(await binary("sdk"), { stdout: "null" })
    .spawn();
  await child.status;
  const tracker = new ProcessTracker();
  try {
    assert.equal(await tracker.lookup(child.pid), undefined);
    assert.deepEqual(tracker.pids(), []);
  } finally {
    tracker.close();
  }
});

Deno.test("ProcessTracker reads a forgotten pid again, a read under way included", async () => {
  const tracker = new ProcessTracker();
  try {
    const first = await tracker.lookup(Deno.pid);
    assert.ok(first && tracker.knows(Deno.pid));
    tracker.forget(Deno.pid);
    assert.equal(tracker.knows(Deno.pid), false);
    const again = await tracker.lookup(Deno.pid);
    assert.notEqual(again, first, "read again");
    // A read under way when forgotten is not what the next lookup gets.
    tracker.forget(Deno.pid);
    const stale = tracker.lookup(Deno.pid);
    assert.ok(tracker.knows(Deno.pid), "being read");
    tracker.forget(Deno.pid);
    const fresh = tracker.lookup(Deno.pid);
    assert.notEqual(fresh, stale);
    assert.equal(tracker.get(Deno.pid), undefined, "nothing tracked yet");
    const [s, f] = await Promise.all([stale, fresh]);
    assert.equal(tracker.get(Deno.pid), f, "the fresh read is tracked");
    assert.notEqual(s, f);
  } finally {
    tracker.close();
  }
});
