import assert from "node:assert/strict";
import type { ExeFile, TargetBinary } from "../process/mod.ts";
import {
  type FakeFile,
  FakeMachine,
  MB,
  waitFor,
} from "../../testing/controller_host.ts";
import { Attachments, binaryKey, type Tracked } from "./attachments.ts";

/** Attachments on `m`, with the pids it reports traced and its turns run at once. */
function attachments(m: FakeMachine) {
  const traced: number[] = [];
  const links = new Attachments(m.probe, m.host.links, m.log, {
    traced: (pid) => traced.push(pid),
    inTurn: (task) => task(),
  });
  return { links, traced };
}

function exeOf(m: FakeMachine, pid: number): Promise<ExeFile> {
  return m.host.processes.exeFile(pid) as Promise<ExeFile>;
}

function readOf(m: FakeMachine, f: FakeFile): Promise<TargetBinary> {
  return m.host.binaries.read(f.path, f);
}

Deno.test("binaryKey names a binary by device and inode, and a one-process link by its pid too", () => {
  assert.equal(binaryKey({ dev: 5, ino: 42 }), "5:42");
  assert.equal(binaryKey({ dev: 5, ino: 42 }, 7), "5:42:7");
  assert.notEqual(
    binaryKey({ dev: 5, ino: 42 }),
    binaryKey({ dev: 6, ino: 42 }),
  );
});

Deno.test("Attachments attaches once per binary however many processes run it", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const { links, traced } = attachments(m);
  const binary = await readOf(m, f);
  for (const pid of [1, 2, 3]) {
    m.exec(pid, "/app/server");
    links.track(binary, await exeOf(m, pid), pid);
  }
  assert.equal(m.links.length, 1);
  assert.deepEqual(traced, [1, 2, 3]);
  assert.equal(links.processes, 3);
  assert.equal(links.keyOf(2), binaryKey(f));
  assert.equal(links.binaryOf(f.dev, f.ino)?.endedOffset, 0x1000);
  // Known by its inode: the next process is covered without a read.
  m.exec(4, "/app/server");
  assert.ok(links.covers(await exeOf(m, 4), 4));
  links.close();
  assert.deepEqual(m.active(), []);
});

Deno.test("Attachments keeps a link when only the metadata changed, and replaces it for new code", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const { links } = attachments(m);
  m.exec(1, "/app/server");
  links.track(await readOf(m, f), await exeOf(m, 1), 1);
  // chmod: the change time moves, content does not.
  f.ctimeSec++;
  m.exec(2, "/app/server");
  assert.ok(links.covers(await exeOf(m, 2), 2));
  // Touched: new modification time, same code: the link stays.
  f.mtime += 1;
  m.exec(3, "/app/server");
  const touched = await exeOf(m, 3);
  assert.equal(links.covers(touched, 3), false);
  links.track(await readOf(m, f), touched, 3);
  assert.equal(m.links.length, 1);
  // Rewritten with other code: the old link goes, a new one comes.
  m.rewrite("/app/server", 0x2000, "v2");
  m.exec(4, "/app/server");
  links.track(await readOf(m, f), await exeOf(m, 4), 4);
  assert.deepEqual(m.active().map((l) => l.offset), [0x2000]);
  assert.equal(m.logged("info", "detached").length, 1);
  links.close();
});

Deno.test("Attachments counts processes left untraced when the new code cannot be attached", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const { links } = attachments(m);
  m.exec(1, "/app/server");
  m.exec(2, "/app/server");
  const old = await readOf(m, f);
  links.track(old, await exeOf(m, 1), 1);
  links.track(old, await exeOf(m, 2), 2);
  // The file was rewritten and replaced by another before it is attached:
  // neither /proc/<pid>/exe nor the path shows it any more.
  m.rewrite("/app/server", 0x2000, "v2");
  const file = await exeOf(m, 1);
  const next = await readOf(m, f);
  m.processes.delete(1);
  m.processes.delete(2);
  m.file("/app/server", { size: 3 * MB, offset: 0x3000 });
  links.track(next, file, 1);
  assert.deepEqual(m.active(), []);
  assert.equal(links.untraced, 1, "process 2 runs the detached binary");
  assert.equal(m.logged("warn", "processes left untraced").length, 1);
  links.close();
});

Deno.test("Attachments removes a link a while after its last process, and keeps a followed one", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const g = m.file("/app/worker", { size: 3 * MB, offset: 0x1000 });
  const { links } = attachments(m);
  m.exec(1, "/app/server");
  links.track(await readOf(m, f), await exeOf(m, 1), 1);
  links.follow("/app/worker", await readOf(m, g));
  m.exec(2, "/app/worker");
  assert.ok(links.covers(await exeOf(m, 2), 2));
  links.forget(1);
  links.forget(2);
  assert.equal(m.active().length, 2, "the link lingers");
  await waitFor(() => m.active().length === 1, "the link removed", 3_000);
  assert.equal(m.active()[0].ino, g.ino, "the followed link stays");
  links.close();
  assert.equal(m.watches.size, 0, "close stops following paths");
});

Deno.test("Attachments makes a one-process link per pid, found by its binary's identity", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const { links } = attachments(m);
  m.exec(1, "/app/server");
  m.exec(2, "/app/server");
  const binary = await readOf(m, f);
  links.attach(binary, true, f.path, 1, true);
  links.attach(binary, true, f.path, 2, true);
  links.attach(binary, true, f.path, 2, true);
  assert.deepEqual(m.active().map((l) => l.pid), [1, 2]);
  assert.equal(links.binaryOf(f.dev, f.ino)?.path, f.path);
  links.close();
});

Deno.test("Attachments moves the processes of a binary rewritten in place to its new link", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const { links } = attachments(m);
  for (const pid of [1, 2]) {
    m.exec(pid, "/app/server");
    links.track(await readOf(m, f), await exeOf(m, pid), pid);
  }
  m.rewrite("/app/server", 0x2000, "v2");
  m.exec(3, "/app/server");
  links.track(await readOf(m, f), await exeOf(m, 3), 3);
  const [now] = links.attached as Tracked[];
  assert.equal(now.binary.endedOffset, 0x2000);
  // They run the same inode: when process 3 exits, the link is still theirs.
  assert.deepEqual([...now.pids].sort(), [1, 2, 3]);
  links.close();
});
