import assert from "node:assert/strict";
import { noFilter, type ResolvedTargets } from "../process/mod.ts";
import {
  type FakeFile,
  FakeMachine,
  MB,
  waitFor,
} from "../../testing/controller_host.ts";
import { Targets, type TargetsHooks } from "./targets.ts";

const all: ResolvedTargets = {
  exes: [],
  pids: [],
  all: true,
  filter: noFilter,
};

/**
 * Starts a Targets on `m` with `--all` (and `hooks`, whose `traced` it
 * replaces), once it watches for new processes.
 */
async function watching(
  m: FakeMachine,
  targets: ResolvedTargets = all,
  hooks: TargetsHooks = {},
): Promise<{ targets: Targets; traced: Set<number> }> {
  const traced = new Set<number>();
  const t = new Targets(m.probe, m.log, {
    ...hooks,
    traced: (pid) => traced.add(pid),
  }, m.host);
  t.attach(targets);
  await waitFor(
    () => m.logged("info", "watching for new processes").length > 0,
    "discovery to start",
  );
  return { targets: t, traced };
}

/**
 * Targets watching a machine whose image layer holds /app/server (code at
 * 0x1000), which the process of container 1 (overlay dev 101) runs.
 */
async function imageInContainer(): Promise<{
  m: FakeMachine;
  lower: FakeFile;
  targets: Targets;
  traced: Set<number>;
}> {
  const m = new FakeMachine();
  const lower = m.file("/var/lib/layers/1/app/server", {
    size: 3 * MB,
    offset: 0x1000,
  });
  const { targets, traced } = await watching(m);
  try {
    m.execInContainer(1, "/app/server", lower, { dev: 101 });
  } catch (e) {
    targets.close();
    throw e;
  }
  return { m, lower, targets, traced };
}

Deno.test("Targets reads a binary once and attaches once for a burst of 200 execs of it", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const { targets, traced } = await watching(m);
  try {
    for (let pid = 1000; pid < 1200; pid++) m.exec(pid, "/app/server");
    await waitFor(() => traced.size === 200, "200 traced processes");
    assert.deepEqual(m.reads.length, 1);
    assert.deepEqual(
      m.active().map((l) => [l.ino, l.offset, l.pid]),
      [[m.files.get("/app/server")!.ino, 0x1000, -1]],
    );
    const d = targets.discovery();
    assert.equal(d.reads, 1);
    assert.ok(d.cacheHits >= 199, `cache hits ${d.cacheHits}`);
    assert.equal(d.lagging, undefined);
  } finally {
    targets.close();
  }
  assert.deepEqual(m.active(), [], "close detaches every link");
});

Deno.test("Targets describes a process before it puts a link on its binary: one waiting for the probe is known before it can emit", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const asked: number[] = [];
  let described!: () => void;
  const description = new Promise<void>((r) => described = r);
  const { targets } = await watching(m, all, {
    describe: (pid) => {
      asked.push(pid);
      return description;
    },
  });
  try {
    m.exec(100, "/app/server");
    await waitFor(() => asked.includes(100), "process 100 described");
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(m.links, [], "a link before the process was described");
    described();
    await waitFor(() => m.active().length === 1, "the link");
  } finally {
    targets.close();
  }
});

Deno.test("Targets tells of every exec event before the process is looked at, so that its old description is dropped", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  m.file("/bin/tool", { size: 100 << 10 });
  const heard: string[] = [];
  const { targets } = await watching(m, all, {
    execed: (pid) => heard.push(`exec ${pid}`),
    describe: (pid) => {
      heard.push(`describe ${pid}`);
      return Promise.resolve();
    },
  });
  try {
    m.exec(100, "/app/server");
    m.exec(101, "/bin/tool");
    await waitFor(() => m.active().length === 1, "the link");
    assert.deepEqual(heard.filter((h) => h.endsWith(" 100")), [
      "exec 100",
      "describe 100",
    ]);
    assert.ok(heard.includes("exec 101"), "an untraced program's exec");
  } finally {
    targets.close();
  }
});

Deno.test("Targets decides a burst of 200 execs of small programs without reading them, and still finds the SDK ones", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x2000 });
  for (let i = 0; i < 180; i++) m.file(`/bin/tool${i}`, { size: 100 << 10 });
  const { targets, traced } = await watching(m);
  try {
    let tool = 0;
    for (let pid = 2000; pid < 2200; pid++) {
      m.exec(pid, pid % 10 === 0 ? "/app/server" : `/bin/tool${tool++}`);
    }
    await waitFor(
      () => traced.size === 20 && m.ruledOut.length === 180,
      "20 traced processes and 180 ruled-out tools",
    );
    assert.equal(m.reads.length, 1, "only the SDK binary is read");
    assert.equal(m.active().length, 1);
    // The kernel stops reporting the tools' processes: their exits do not wake us.
    assert.equal(m.unwatched.size, 180);
    for (const pid of traced) assert.ok(m.watched.has(pid));
  } finally {
    targets.close();
  }
});

Deno.test("Targets attaches at the new offset when the binary is rewritten while it is read", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000, buildId: "v1" });
  const { targets, traced } = await watching(m);
  try {
    const release = m.holdReads();
    m.exec(100, "/app/server");
    await waitFor(() => m.reads.length === 1, "the first read");
    // Rewritten in place (same inode) while the old content is being read.
    m.rewrite("/app/server", 0x3000, "v2");
    m.exec(101, "/app/server");
    await waitFor(() => m.reads.length === 2, "the new version's read");
    release();
    await waitFor(() => traced.has(101), "the new process traced");
    await new Promise((r) => setTimeout(r, 20));
    // The verdict on the old content is not used for the new one.
    assert.deepEqual(m.links.map((l) => l.offset), [0x3000]);
    assert.deepEqual(m.active().map((l) => l.offset), [0x3000]);
  } finally {
    targets.close();
  }
});

Deno.test("Targets detaches and attaches again when a traced binary is rewritten with other code", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000, buildId: "v1" });
  const { targets, traced } = await watching(m);
  try {
    m.exec(100, "/app/server");
    await waitFor(() => traced.has(100), "the first process traced");
    m.exit(100);
    m.rewrite("/app/server", 0x3000, "v2");
    m.exec(101, "/app/server");
    await waitFor(() => traced.has(101), "the second process traced");
    assert.deepEqual(m.active().map((l) => l.offset), [0x3000]);
    assert.equal(m.links.length, 2);
    assert.equal(m.logged("info", "detached").length, 1);
  } finally {
    targets.close();
  }
});

Deno.test("Targets handles a process that exits before its binary is read", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  m.file("/usr/bin/big", { size: 8 * MB }); // a large program without the SDK
  const { targets, traced } = await watching(m);
  try {
    const release = m.holdReads();
    m.exec(100, "/app/server");
    m.exec(200, "/usr/bin/big", 42);
    await waitFor(() => m.reads.length === 2, "both reads to start");
    m.exit(100);
    m.exit(200);
    await waitFor(() => !m.processes.has(200), "the exits");
    release();
    // The gone program's binary is read through the path its parent saw,
    // and ruled out in the kernel.
    await waitFor(() => m.ruledOut.length === 1, "the big program ruled out");
    assert.equal(
      m.ruledOut[0].ino,
      BigInt(m.files.get("/usr/bin/big")!.ino),
    );
    assert.equal(traced.size, 0);
    assert.deepEqual(m.active(), [], "no link for a process that is gone");
    // The next process of the server is attached without another read.
    const reads = m.reads.length;
    m.exec(101, "/app/server");
    await waitFor(() => traced.has(101), "the next process traced");
    assert.equal(m.reads.length, reads);
    assert.equal(m.logged("warn", "cannot follow a process").length, 0);
  } finally {
    targets.close();
  }
});

Deno.test("Targets with only --pid attaches for those processes alone and filters in the kernel", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  m.exec(100, "/app/server");
  const binary = await m.host.binaries.read("/proc/100/exe", f);
  const targets = new Targets(m.probe, m.log, {}, m.host);
  try {
    targets.attach({ ...all, all: false, pids: [{ pid: 100, binary }] });
    assert.deepEqual(m.pidFilter, [100]);
    assert.deepEqual(m.active().map((l) => l.pid), [100]);
    assert.equal(targets.binaryOf(f.dev, f.ino)?.endedOffset, 0x1000);
    assert.equal(targets.attached.length, 1);
  } finally {
    targets.close();
  }
});

Deno.test("Targets follows a --target path rewritten in place and replaced", async () => {
  const m = new FakeMachine();
  const f = m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  m.exec(100, "/app/server");
  const binary = await m.host.binaries.read("/app/server", f);
  const { targets } = await watching(m, {
    ...all,
    all: false,
    exes: [{ path: "/app/server", binary }],
  });
  try {
    assert.equal(m.pidFilter, null);
    const watch = m.watches.get("/app/server")!;
    // Detached at once, before the new content runs with the old offset.
    watch.rewriting(binary);
    assert.deepEqual(m.active(), []);
    m.rewrite("/app/server", 0x3000, "v2");
    watch.replaced(await m.host.binaries.read("/app/server", f));
    assert.deepEqual(m.active().map((l) => l.offset), [0x3000]);
  } finally {
    targets.close();
  }
});

Deno.test("Targets rescans /proc every second when exec events are refused", async () => {
  const m = new FakeMachine();
  m.noEvents = true;
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  const { targets, traced } = await watching(m);
  try {
    assert.equal(
      m.logs.find((l) => l.msg === "watching for new processes")?.fields?.by,
      "/proc rescan",
    );
    m.exec(100, "/app/server"); // no event: only /proc shows it
    await waitFor(() => traced.has(100), "the rescan to find it", 3_000);
  } finally {
    targets.close();
  }
});

Deno.test("Targets catches up with a rescan after exec events were lost, and says it lags meanwhile", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  m.file("/bin/sh", { size: 100 << 10 });
  const { targets, traced } = await watching(m);
  try {
    // The server's exec was lost; the next event carries the count.
    m.processes.set(100, {
      path: "/app/server",
      file: m.files.get("/app/server")!,
    });
    m.lost = 3;
    m.exec(200, "/bin/sh");
    await waitFor(() => targets.discovery().lagging !== undefined, "lagging");
    assert.match(targets.discovery().lagging!, /3 exec events lost/);
    assert.equal(m.logged("warn", "exec events lost").length, 1);
    await waitFor(() => traced.has(100), "the catch-up rescan");
    await waitFor(() => targets.discovery().lagging === undefined, "caught up");
    assert.equal(targets.discovery().execEventsLost, 3);
  } finally {
    targets.close();
  }
});

Deno.test("Targets attaches once to one image file run by containers of that image, keeps the link while any of them runs, and gives a copied-up file its own", async () => {
  // The image layer's file on the host's disk, under two containers' overlays.
  const { m, lower, targets, traced } = await imageInContainer();
  try {
    m.execInContainer(2, "/app/server", lower, { dev: 102 });
    m.execInContainer(3, "/app/server", lower, { dev: 102 });
    await waitFor(() => traced.size === 3, "3 traced processes");
    assert.deepEqual(
      m.active().map((l) => [l.ino, l.offset]),
      [[lower.ino, 0x1000]],
      "one link on the real file: each more would copy every record again",
    );
    // Build info is found for a process of either container.
    assert.equal(targets.binaryOf(102, lower.ino, 2)?.endedOffset, 0x1000);

    // A chmod or a rewrite in container 102 copies the file up: a new real
    // file, shown with the inode number it came from and a new change time.
    const upper = m.file("/var/lib/upper/102/app/server", {
      size: 3 * MB,
      offset: 0x2000,
    });
    upper.ctimeSec = lower.ctimeSec + 60;
    m.execInContainer(4, "/app/server", upper, { dev: 102, ino: lower.ino });
    await waitFor(() => traced.has(4), "the copied-up file's process");
    assert.deepEqual(
      m.active().map((l) => [l.ino, l.offset]).sort(),
      [[lower.ino, 0x1000], [upper.ino, 0x2000]].sort(),
      "the copy gets its own link, the image's file keeps its own",
    );

    // Processes of both containers keep the image file's link.
    m.exit(1);
    m.exit(2);
    await delay(2_300);
    assert.ok(
      m.active().some((l) => l.ino === lower.ino),
      "pid 3 (the other container) still runs the image's file",
    );
    m.exit(3);
    await waitFor(
      () => !m.active().some((l) => l.ino === lower.ino),
      "the image file's link to go with its last process",
    );
    assert.deepEqual(m.active().map((l) => l.ino), [upper.ino]);
  } finally {
    targets.close();
  }
});

Deno.test("Targets keeps host files apart by device: one inode number on two disks is two links", async () => {
  const m = new FakeMachine();
  const a = m.file("/disk-a/server", { size: 3 * MB, offset: 0x1000 });
  const b = m.file("/disk-b/server", { size: 3 * MB, offset: 0x1000 });
  b.dev = 6;
  b.ino = a.ino;
  const { targets, traced } = await watching(m);
  try {
    m.exec(1, "/disk-a/server");
    m.exec(2, "/disk-b/server");
    await waitFor(() => traced.size === 2, "2 traced processes");
    assert.equal(m.active().length, 2);
  } finally {
    targets.close();
  }
});

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

Deno.test("Targets takes an idle link off a container's file at once when the file runs rewritten in place", async () => {
  const m = new FakeMachine();
  // Already copied up: the container's own (upper) file, rewritten in place.
  const upper = m.file("/var/lib/upper/101/app/server", {
    size: 3 * MB,
    offset: 0x1000,
    buildId: "v1",
  });
  const { targets, traced } = await watching(m);
  try {
    m.execInContainer(1, "/app/server", upper, { dev: 101, ino: 77 });
    await waitFor(() => traced.has(1), "the first process");
    m.exit(1);
    m.rewrite(upper.path, 0x1800, "v2");
    m.execInContainer(2, "/app/server", upper, { dev: 101, ino: 77 });
    await waitFor(() => traced.has(2), "the second process");
    assert.deepEqual(
      m.active().map((l) => [l.ino, l.offset]),
      [[upper.ino, 0x1800]],
      "not the old offset, which may be mid-instruction in the new code",
    );
  } finally {
    targets.close();
  }
});

Deno.test("Targets keeps a container's running process on the image file's link when a rescan sees a copy made since", async () => {
  const { m, lower, targets, traced } = await imageInContainer();
  try {
    await waitFor(() => traced.has(1), "the process");
    const upper = m.file("/var/lib/upper/101/app/server", {
      size: 3 * MB,
      offset: 0x1000,
    });
    upper.ctimeSec = lower.ctimeSec + 60;
    m.copyUp(1, upper);
    // A rescan (after lost exec events) looks at the process again.
    m.lost = 1;
    m.file("/bin/sh", { size: 100 << 10 });
    m.exec(2, "/bin/sh");
    await waitFor(() => targets.discovery().execEventsLost === 1, "the loss");
    await waitFor(() => targets.discovery().lagging === undefined, "caught up");
    await new Promise((r) => setTimeout(r, 2_300));
    assert.deepEqual(
      m.active().map((l) => l.ino),
      [lower.ino],
      "the link on the file the process runs stays, and no other is made",
    );
  } finally {
    targets.close();
  }
});

Deno.test("Targets reads a program of one image once for all its containers", async () => {
  const m = new FakeMachine();
  const tool = m.file("/var/lib/layers/1/bin/tool", { size: 3 * MB });
  const { targets } = await watching(m);
  try {
    m.execInContainer(1, "/bin/tool", tool, { dev: 101 });
    await waitFor(() => m.ruledOut.length === 1, "the first container's");
    m.execInContainer(2, "/bin/tool", tool, { dev: 102 });
    await waitFor(() => m.ruledOut.length === 2, "the second container's");
    assert.equal(m.reads.length, 1, "reads of the image's file");
    assert.deepEqual(m.ruledOut.map((b) => b.dev), [101, 102]);
  } finally {
    targets.close();
  }
});
