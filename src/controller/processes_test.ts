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

Deno.test("Processes describes a process again after it executed another program in place, under a key of its own", async () => {
  const processes = new Processes(() => undefined);
  // A shell that, once told, executes sleep in place: same pid, same start.
  const child = new Deno.Command("sh", {
    args: ["-c", "read line; exec sleep 30"],
    stdin: "piped",
  }).spawn();
  try {
    const shell = await processes.get(child.pid);
    assert.match(shell.exePath!, /sh$/);
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    await writer.close();
    const exe = `/proc/${child.pid}/exe`;
    for (let i = 0; !(await Deno.readLink(exe)).endsWith("/sleep"); i++) {
      assert.ok(i < 500, "sh did not execute sleep");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(
      await processes.get(child.pid),
      shell,
      "without its exec event, the first description stays",
    );
    processes.execed(child.pid);
    const sleep = await processes.get(child.pid);
    assert.match(sleep.exePath!, /\/sleep$/);
    assert.deepEqual(sleep.cmdline, ["sleep", "30"]);
    assert.notEqual(sleep.key, shell.key);
    processes.execed(999_999_999); // never described: nothing to forget
  } finally {
    processes.close();
    child.kill();
    await child.status;
  }
});
