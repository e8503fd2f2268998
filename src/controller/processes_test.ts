import assert from "node:assert/strict";
import { Processes } from "./processes.ts";

Deno.test("Processes describes each process once, keyed by pid and start time", async () => {
  const processes = new Processes(() => undefined);
  try {
    const a = await processes.get(Deno.pid);
    const b = await processes.get(Deno.pid);
    assert.equal(a, b);
    assert.equal(a.pid, Deno.pid);
    assert.match(a.key!, new RegExp(`^${Deno.pid}@[0-9]+$`));
    assert.ok(a.exePath, "this process's executable is described");
    const gone = await processes.get(999_999_999);
    assert.deepEqual(gone, { pid: 999_999_999 });
    assert.equal(await processes.get(999_999_999), gone);
  } finally {
    processes.close();
  }
});

Deno.test("Processes keeps an exited process's description for the records it left", async () => {
  const exited = Promise.withResolvers<number>();
  const processes = new Processes(() => undefined, exited.resolve);
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const running = await processes.get(child.pid);
    assert.ok(running.exePath, "described while it runs");
    child.kill();
    await child.status;
    // Its exit is noticed (a check a second) before its last records are read.
    assert.equal(await exited.promise, child.pid);
    assert.equal(await processes.get(child.pid), running);
  } finally {
    processes.close();
    try {
      child.kill();
    } catch {
      // Exited already.
    }
  }
});
