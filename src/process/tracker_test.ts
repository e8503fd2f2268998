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
