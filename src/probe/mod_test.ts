// End-to-end tests of the probe on the real kernel: real uprobes on a Go
// emitter, pinned links, two instances, SIGKILL and adoption, cleanup.
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { openProbe, type Probe } from "./mod.ts";
import { existsSync } from "node:fs";
import { type Logger, silentLogger } from "../log.ts";
import { UsageError } from "../errors.ts";
import { closeFd, linkPerfEvent, objGet, openUprobe } from "../ffi/mod.ts";
import { setTimeout as delay } from "node:timers/promises";
import {
  buildEmitter,
  type Emitter,
  firstBadByte,
  parseHeader,
  runEmitter,
} from "../../testing/probe.ts";
import { ebpfTest, removePinRoot, testPinRoot } from "../../testing/ebpf.ts";

let shared: Promise<{ dir: string; emitter: Emitter }> | undefined;

/** One emitter build for the whole file; tests copy it for new inodes. */
function emitter(): Promise<{ dir: string; emitter: Emitter }> {
  return shared ??= (async () => {
    const dir = Deno.makeTempDirSync({ prefix: "spanbridge-probe-test-" });
    globalThis.addEventListener(
      "unload",
      () => Deno.removeSync(dir, { recursive: true }),
    );
    return { dir, emitter: await buildEmitter(`${dir}/emitter`) };
  })();
}

async function copyOf(e: Emitter, path: string): Promise<Emitter> {
  await Deno.copyFile(e.path, path);
  await Deno.chmod(path, 0o755);
  return { path, offset: e.offset };
}

/** Reads records until `n` arrived or 5 s passed. */
async function collect(probe: Probe, n: number): Promise<Uint8Array[]> {
  const recs: Uint8Array[] = [];
  const deadline = Date.now() + 5000;
  while (recs.length < n && Date.now() < deadline) {
    if (await probe.reader.wait(20)) {
      probe.reader.drain((r) => recs.push(r.slice()));
    }
  }
  return recs;
}

async function bpftoolJson(
  args: string[],
): Promise<{ id: number; prog_id?: number }[]> {
  const out = await new Deno.Command("bpftool", {
    args: ["-j", ...args],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!text) return [];
  const v = JSON.parse(text);
  return Array.isArray(v) ? v : [v];
}

/** Kernel ids of an instance's program, maps and links (from its pins). */
async function pinnedIds(
  dir: string,
): Promise<{ progs: number[]; maps: number[]; links: number[] }> {
  const ids = async (kind: string, sub: string) => {
    const out: number[] = [];
    for (const e of Deno.readDirSync(`${dir}/${sub}`)) {
      out.push(
        ...(await bpftoolJson([
          kind,
          "show",
          "pinned",
          `${dir}/${sub}/${e.name}`,
        ])).map((x) => x.id),
      );
    }
    return out;
  };
  return {
    progs: await ids("prog", "progs"),
    maps: await ids("map", "maps"),
    links: await ids("link", "links"),
  };
}

/** Waits until none of `ids` is listed by bpftool (the kernel frees objects lazily). */
async function assertGone(
  ids: { progs: number[]; maps: number[]; links: number[] },
): Promise<void> {
  let left: number[] = [];
  for (let i = 0; i < 50; i++) {
    const progs = new Set(
      (await bpftoolJson(["prog", "list"])).map((x) => x.id),
    );
    const maps = new Set((await bpftoolJson(["map", "list"])).map((x) => x.id));
    const links = new Set(
      (await bpftoolJson(["link", "list"])).map((x) => x.id),
    );
    left = [
      ...ids.progs.filter((id) => progs.has(id)),
      ...ids.maps.filter((id) => maps.has(id)),
      ...ids.links.filter((id) => links.has(id)),
    ];
    if (!left.length) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`BPF objects left behind: ids ${left.join(", ")}`);
}

/** The link pins of a probe's instance (one per attached binary). */
function linkPins(probe: Probe): string[] {
  return [...Deno.readDirSync(`${probe.pinDir}/links`)].map((e) => e.name)
    .sort();
}

/** A logger that keeps the messages of info lines. */
function infoLog(): Logger & { infos: string[] } {
  const infos: string[] = [];
  return { ...silentLogger, info: (msg: string) => infos.push(msg), infos };
}

const adoptedMsg = "adopted the probe instance of a controller that exited";

async function linksOfProg(progId: number): Promise<number> {
  return (await bpftoolJson(["link", "list"])).filter((l) =>
    l.prog_id === progId
  ).length;
}

ebpfTest(
  "probe on an emitter delivers every batch byte-exact and counts it",
  async () => {
    const { emitter: e } = await emitter();
    const root = testPinRoot();
    const probe = await openProbe({ pinRoot: root });
    try {
      assertEquals(probe.kind, "dynptr");
      probe.attach(e.path, e.offset);
      const sizes = [1, 4096, 65536, (256 << 10) + 1];
      await runEmitter(e, sizes, 3);
      const recs = await collect(probe, 12);
      assertEquals(recs.map((r) => parseHeader(r).len), [
        ...sizes,
        ...sizes,
        ...sizes,
      ]);
      for (const r of recs) {
        assertEquals(
          firstBadByte(r, parseHeader(r).len),
          -1,
        );
      }
      const c = probe.counters();
      assertEquals(
        [c.hits, c.submitted, c.ringFull, c.readFaults, c.oversize],
        [12, 12, 0, 0, 0],
      );
      assertEquals(c.bytes, 3 * sizes.reduce((a, b) => a + b));
    } finally {
      probe.close();
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "size-class probe on an emitter delivers class-boundary batches byte-exact",
  async () => {
    const { emitter: e } = await emitter();
    const root = testPinRoot();
    const probe = await openProbe({ pinRoot: root, kind: "classes" });
    try {
      probe.attach(e.path, e.offset);
      const sizes = [1, 64, 65, 4096, 4097, 256 << 10, (256 << 10) + 1];
      await runEmitter(e, sizes);
      const recs = await collect(probe, 6);
      assertEquals(recs.map((r) => parseHeader(r).len), sizes.slice(0, 6));
      for (const r of recs) {
        assertEquals(firstBadByte(r, parseHeader(r).len), -1);
      }
      const c = probe.counters();
      assertEquals([c.hits, c.submitted, c.oversize], [7, 6, 1]);
    } finally {
      probe.close();
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "attach for one process makes a link of its own per pid, beside the link for every process",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const probe = await openProbe({ pinRoot: root });
    const sleepers = [1, 2].map(() =>
      new Deno.Command("sleep", { args: ["30"] }).spawn()
    );
    try {
      const bin = await copyOf(e, `${dir}/per-pid`);
      const [p, q] = sleepers.map((c) => c.pid);
      const all = probe.attach(bin.path, bin.offset);
      const one = probe.attach(bin.path, bin.offset, p);
      assert(probe.attach(bin.path, bin.offset, p) === one);
      const two = probe.attach(bin.path, bin.offset, q);
      assertEquals([all.pid, one.pid, two.pid], [-1, p, q]);
      assertEquals(one.key, `${all.key}_${p}`);
      assertEquals(linkPins(probe).sort(), [all.key, one.key, two.key].sort());
      const progId = (await pinnedIds(probe.pinDir)).progs[0];
      assertEquals(await linksOfProg(progId), 3);
      one.detach();
      assertEquals(await linksOfProg(progId), 2);
    } finally {
      for (const c of sleepers) {
        c.kill("SIGKILL");
        await c.status;
      }
      probe.close();
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "attach is idempotent per binary; a copy or a rebuild in place gets its own link",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const probe = await openProbe({ pinRoot: root });
    try {
      const bin = await copyOf(e, `${dir}/idem`);
      const a = probe.attach(bin.path, bin.offset);
      assert(probe.attach(bin.path, bin.offset) === a);
      assertEquals(linkPins(probe).length, 1);
      const progId = (await pinnedIds(probe.pinDir)).progs[0];
      assertEquals(await linksOfProg(progId), 1);
      // Replace the file (new inode), as go build -o does.
      await Deno.remove(bin.path);
      await copyOf(e, bin.path);
      const b = probe.attach(bin.path, bin.offset);
      assert(b !== a);
      assertEquals(linkPins(probe).length, 2);
      assertEquals(await linksOfProg(progId), 2);
      a.detach();
      assertEquals(linkPins(probe), [b.key]);
      assertEquals(await linksOfProg(progId), 1);
    } finally {
      probe.close();
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "two probe instances on two targets do not see each other's spans",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const one = await openProbe({ pinRoot: root, name: "one" });
    const two = await openProbe({ pinRoot: root, name: "two" });
    try {
      const a = await copyOf(e, `${dir}/target-a`);
      const b = await copyOf(e, `${dir}/target-b`);
      one.attach(a.path, a.offset);
      two.attach(b.path, b.offset);
      await Promise.all([runEmitter(a, [111], 3), runEmitter(b, [222], 4)]);
      const [recsOne, recsTwo] = await Promise.all([
        collect(one, 3),
        collect(two, 4),
      ]);
      await new Promise((r) => setTimeout(r, 50));
      one.reader.drain((r) => recsOne.push(r.slice()));
      two.reader.drain((r) => recsTwo.push(r.slice()));
      assertEquals(recsOne.map((r) => parseHeader(r).len), [111, 111, 111]);
      assertEquals(recsTwo.map((r) => parseHeader(r).len), [
        222,
        222,
        222,
        222,
      ]);
      assertEquals(one.counters().hits, 3);
      assertEquals(two.counters().hits, 4);
    } finally {
      one.close();
      two.close();
      removePinRoot(root);
    }
  },
);

/** Starts a controller in a child process that attaches and then idles. */
async function startChild(
  root: string,
  e: Emitter,
  extra = "",
): Promise<Deno.ChildProcess> {
  const mod = new URL("./mod.ts", import.meta.url).href;
  const code = `
    import { openProbe } from ${JSON.stringify(mod)};
    const probe = await openProbe({ pinRoot: ${JSON.stringify(root)} });
    probe.attach(${JSON.stringify(e.path)}, ${e.offset});
    ${extra}
    console.log("ready " + probe.pinDir);
    setInterval(() => {}, 1000);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The child controller exited early: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  child.stdout.cancel();
  return child;
}

ebpfTest(
  "a SIGKILLed controller's instance is adopted: one attachment, buffered records kept",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const bin = await copyOf(e, `${dir}/killed`);
    try {
      const child = await startChild(root, bin);
      await runEmitter(bin, [300, 70000], 2); // buffered: the child never reads
      child.kill("SIGKILL");
      await child.status;
      const [orphan] = [...Deno.readDirSync(root)];
      const before = await pinnedIds(`${root}/${orphan.name}`);
      assertEquals(before.links.length, 1);

      const log = infoLog();
      const probe = await openProbe({ pinRoot: root }, log);
      try {
        assert(log.infos.includes(adoptedMsg));
        assertEquals(
          [...Deno.readDirSync(root)].length,
          1,
          "one instance directory",
        );
        assertEquals(linkPins(probe).length, 1);
        probe.attach(bin.path, bin.offset); // the same binary: no second link
        assertEquals(probe.releaseUnclaimed(), 0);
        assertEquals(linkPins(probe).length, 1);
        assertEquals(await linksOfProg(before.progs[0]), 1);
        const recs = await collect(probe, 4);
        assertEquals(recs.map((r) => parseHeader(r).len), [
          300,
          70000,
          300,
          70000,
        ]);
        await runEmitter(bin, [5]); // still attached
        assertEquals((await collect(probe, 1)).map((r) => parseHeader(r).len), [
          5,
        ]);
      } finally {
        probe.close();
      }
      assertEquals(existsSync(root), false, "no instance, and no pin root");
      await assertGone(before);
    } finally {
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "with adopt false an orphaned instance is removed, links included",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const bin = await copyOf(e, `${dir}/orphan`);
    try {
      const child = await startChild(root, bin);
      child.kill("SIGKILL");
      await child.status;
      const [orphan] = [...Deno.readDirSync(root)];
      const before = await pinnedIds(`${root}/${orphan.name}`);
      const log = infoLog();
      const probe = await openProbe({ pinRoot: root, adopt: false }, log);
      try {
        assert(!log.infos.includes(adoptedMsg));
        assertEquals(
          [...Deno.readDirSync(root)].map((d) => `${root}/${d.name}`),
          [probe.pinDir],
        );
        assertEquals(linkPins(probe).length, 0);
      } finally {
        probe.close();
      }
      await assertGone(before);
    } finally {
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "a running instance is never shared: the same name is refused, another name leaves it alone, SIGTERM removes it",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const bin = await copyOf(e, `${dir}/sigterm`);
    try {
      const child = await startChild(
        root,
        bin,
        `Deno.addSignalListener("SIGTERM", () => { probe.close(); Deno.exit(143); });`,
      );
      const [live] = [...Deno.readDirSync(root)];
      const ids = await pinnedIds(`${root}/${live.name}`);
      // A second controller of the same name would trace the same spans twice.
      await openProbe({ pinRoot: root }).then(
        () => assert(false, "a second controller of one instance started"),
        (err) => {
          assert(err instanceof UsageError, String(err));
          assert(
            err.message.includes(
              `in use by the running controller with pid ${child.pid}`,
            ),
            err.message,
          );
        },
      );
      assertEquals([...Deno.readDirSync(root)].map((d) => d.name), [live.name]);
      // Another name must not touch the live instance.
      const other = await openProbe({ pinRoot: root, name: "other" });
      assertEquals([...Deno.readDirSync(root)].length, 2);
      other.close();
      child.kill("SIGTERM");
      assertEquals((await child.status).code, 143);
      assertEquals(existsSync(root), false, "no instance, and no pin root");
      await assertGone(ids);
    } finally {
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "a restart with other targets keeps only the adopted links it attaches again",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const old = await copyOf(e, `${dir}/old-target`);
    const next = await copyOf(e, `${dir}/new-target`);
    try {
      const child = await startChild(root, old);
      child.kill("SIGKILL");
      await child.status;
      const probe = await openProbe({ pinRoot: root });
      try {
        const kept = linkPins(probe);
        assertEquals(kept.length, 1);
        const a = probe.attach(next.path, next.offset);
        assertEquals(probe.releaseUnclaimed(), 1);
        assertEquals(linkPins(probe), [a.key]);
        // The old binary is no longer traced; the new one is.
        await runEmitter(next, [7]);
        assertEquals((await collect(probe, 1)).map((r) => parseHeader(r).len), [
          7,
        ]);
        const before = probe.counters().hits;
        const oldRun = new Deno.Command(old.path, {
          args: ["-wait-attach", "300ms", "-sizes", "9", "-count", "1"],
          stdout: "null",
          stderr: "null",
        }).output();
        await oldRun;
        assertEquals(probe.counters().hits, before);
      } finally {
        probe.close();
      }
    } finally {
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "close leaves no program, map, link or empty pin root behind",
  async () => {
    const { dir, emitter: e } = await emitter();
    const root = testPinRoot();
    const bin = await copyOf(e, `${dir}/cleanup`);
    const first = await openProbe({ pinRoot: root, name: "first" });
    const second = await openProbe({ pinRoot: root, name: "second" });
    first.attach(bin.path, bin.offset);
    const ids = await pinnedIds(first.pinDir);
    assertEquals([ids.progs.length, ids.maps.length, ids.links.length], [
      1,
      4,
      1,
    ]);
    try {
      first.close();
      first.close();
      assertEquals(
        [...Deno.readDirSync(root)].map((e) => `${root}/${e.name}`),
        [second.pinDir],
        "the root stays while another instance is in it",
      );
      second.close();
      assertEquals(
        existsSync(root),
        false,
        "the last instance removes the root",
      );
    } finally {
      removePinRoot(root);
    }
    await assertGone(ids);
  },
);

ebpfTest(
  "a dynptr object the kernel refuses falls back to size classes",
  async () => {
    const root = testPinRoot();
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => warnings.push(msg) };
    const probe = await openProbe({
      pinRoot: root,
      objects: { dynptr: new Uint8Array(64) },
    }, log);
    try {
      assertEquals(probe.kind, "classes");
      assertEquals(probe.maxRecordBytes, 256 << 10);
      assertEquals(warnings, [
        "cannot load the dynptr probe; falling back to classes",
      ]);
      assertEquals(
        [...Deno.readDirSync(root)].length,
        1,
        "the failed load left no pins",
      );
    } finally {
      probe.close();
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "without privileges openProbe names the failing call and says to run as root",
  async () => {
    const root = testPinRoot();
    const denoDir = Deno.makeTempDirSync();
    Deno.chownSync(denoDir, 65534, 65534);
    const mod = new URL("./mod.ts", import.meta.url).href;
    const code = `import { openProbe } from ${JSON.stringify(mod)};
    try { await openProbe({ pinRoot: ${
      JSON.stringify(root)
    } }); } catch (e) { console.log(e.message); }`;
    try {
      const out = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          Deno.execPath(),
          "eval",
          "--ext=ts",
          code,
        ],
        env: { DENO_DIR: denoDir, HOME: denoDir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert(
        text.startsWith(`Cannot create the pin root ${root}:`) ||
          text.startsWith(`Cannot check the pin root ${root}:`),
        text,
      );
      assert(text.includes("Run as root."), text);
      assertEquals(existsSync(root), false, "nothing left owned by nobody");
    } finally {
      Deno.removeSync(denoDir, { recursive: true });
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "an orphaned instance that cannot be used is removed and a fresh one loaded",
  async () => {
    const root = testPinRoot();
    const first = await openProbe({ pinRoot: root });
    // Fake a controller killed while loading: an instance of a dead pid
    // whose program pin is missing.
    const dead = first.pinDir.replace(`_${Deno.pid}_`, "_1_");
    Deno.renameSync(first.pinDir, dead);
    Deno.removeSync(`${dead}/progs`, { recursive: true });
    const log = infoLog();
    const probe = await openProbe({ pinRoot: root }, log);
    try {
      assert(!log.infos.includes(adoptedMsg));
      assertEquals(
        [...Deno.readDirSync(root)].map((d) => `${root}/${d.name}`),
        [probe.pinDir],
      );
    } finally {
      probe.close();
      first.close(); // its directory is gone already: nothing to do
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "a program polling for the probe loses no batch when the link comes 30 ms after the breakpoint",
  async () => {
    // Attaching is two system calls: the uprobe's perf event patches the
    // probe point at once, the link then gives it the program. The emitter
    // polls for the patch every 10 ms and hands off at once; the SDK must
    // wait until the patch has settled, or its batch reaches no program.
    const { dir, emitter: e } = await emitter();
    const copy = await copyOf(e, `${dir}/emitter-settle`);
    const root = testPinRoot();
    const probe = await openProbe({ pinRoot: root });
    const progFd = objGet(`${probe.pinDir}/progs/ended_${probe.kind}`);
    let perfFd = -1;
    let linkFd = -1;
    try {
      const sent = runEmitter(copy, [100]);
      await delay(300); // the emitter is polling an unpatched probe point
      perfFd = openUprobe(copy.path, copy.offset);
      await delay(30);
      linkFd = linkPerfEvent(progFd, perfFd, copy.path);
      await sent;
      const recs = await collect(probe, 1);
      assertEquals(recs.map((r) => parseHeader(r).len), [100]);
    } finally {
      for (const fd of [linkFd, perfFd, progFd]) if (fd >= 0) closeFd(fd);
      probe.close();
      removePinRoot(root);
    }
  },
);
