import assert from "node:assert/strict";
import { TargetError } from "../process/mod.ts";
import { FakeMachine, MB } from "../../testing/controller_host.ts";
import { Binaries } from "./binaries.ts";
import type { ExecEvent } from "../probe/mod.ts";

/** The exec event `m` reports for `pid`. */
async function execEvent(m: FakeMachine, pid: number, path: string) {
  m.exec(pid, path, 1);
  const events = m.host.processes.openEvents();
  const [event] = await events.next(0);
  events.close();
  return event as ExecEvent;
}

Deno.test("Binaries rules out a small program by the kernel's size alone, once", async () => {
  const m = new FakeMachine();
  m.file("/bin/sh", { size: 100 << 10 });
  const b = new Binaries(m.host.binaries, m.log);
  const event = await execEvent(m, 1, "/bin/sh");
  assert.deepEqual(b.ofExec(event), { ruledOut: "new" });
  assert.deepEqual(b.ofExec(event), { ruledOut: "known" });
  assert.equal(b.ofExec(undefined), undefined);
  assert.equal(m.reads.length, 0);
});

Deno.test("Binaries reads a wanted binary once and knows it by its stat and the kernel's identity", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const b = new Binaries(m.host.binaries, m.log);
  const event = await execEvent(m, 1, "/app/server");
  const file = (await m.host.processes.exeFile(1))!;
  const names = b.namesOf(file, event);
  assert.equal(names.length, 2, "the kernel's identity is this file's");
  const verdict = await b.readWanted(names, file, 1);
  assert.equal(verdict?.endedOffset, 0x1000);
  assert.equal(verdict?.realPath, "/app/server");
  assert.equal(b.known(names), verdict);
  assert.equal(b.ofExec(event), verdict);
  assert.deepEqual(m.reads, ["/proc/1/exe"]);
  assert.equal(b.counters().reads, 1);
});

Deno.test("Binaries judges what it cannot read: gone means no verdict, no SDK means null, a failed call throws", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const read = m.host.binaries.read;
  const b = new Binaries(m.host.binaries, m.log);
  m.exec(1, "/app/server");
  const file = (await m.host.processes.exeFile(1))!;
  const cases: [Error, unknown][] = [
    [new TargetError("not-found", "gone"), undefined],
    [new TargetError("access-denied", "no"), undefined],
    [new TargetError("no-probe-point", "no SDK"), null],
    [new TargetError("too-large", "crafted"), null],
    [new Error("odd bytes"), null],
  ];
  for (const [i, [err, expected]] of cases.entries()) {
    m.host.binaries.read = () => Promise.reject(err);
    const names = [`case:${i}`];
    assert.equal(await b.readWanted(names, file, 1), expected, err.message);
  }
  assert.equal(m.logged("warn", "binary refused").length, 1);
  m.host.binaries.read = () => Promise.reject(new Deno.errors.Interrupted());
  await assert.rejects(b.readWanted(["case:eintr"], file, 1));
  m.host.binaries.read = read;
});

Deno.test("Binaries reads a gone process's binary through the path its parent saw", async () => {
  const m = new FakeMachine();
  m.file("/usr/bin/big", { size: 8 * MB });
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const b = new Binaries(m.host.binaries, m.log);
  const big = await execEvent(m, 1, "/usr/bin/big");
  const server = await execEvent(m, 2, "/app/server");
  m.processes.clear();
  assert.equal(await b.readGone(big), true);
  assert.equal(await b.readGone(server), false);
  assert.deepEqual(m.reads, [
    "/proc/1/root/usr/bin/big",
    "/proc/1/root/app/server",
  ]);
  // Another file at the path now: not the one the kernel named.
  m.file("/usr/bin/big", { size: 8 * MB });
  const again = new Binaries(m.host.binaries, m.log);
  assert.equal(await again.readGone(big), false);
  assert.equal(m.reads.length, 2);
});
