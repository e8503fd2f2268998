import assert from "node:assert/strict";
import {
  decodeExecEvent,
  encodeExecBinary,
  type ExecBinary,
  type ExecEvent,
  type ExecEvents,
  openExecEvents,
  sameBinary,
} from "./exec_events.ts";
import { execLayout } from "../wire/mod.ts";
import { ebpfTest } from "../../testing/ebpf.ts";

/** Runs `exe` to its end; returns its pid. */
async function run(exe: string, args: string[] = []): Promise<number> {
  const child = new Deno.Command(exe, { args, stdout: "null", stderr: "null" })
    .spawn();
  await child.status;
  return child.pid;
}

/** The events of `pids` read until `until` holds or `ms` pass. */
async function collect(
  events: ExecEvents,
  pids: Set<number>,
  ms: number,
  until: (seen: ExecEvent[]) => boolean = () => false,
): Promise<ExecEvent[]> {
  const seen: ExecEvent[] = [];
  const deadline = Date.now() + ms;
  while (!until(seen) && Date.now() < deadline) {
    for (const e of await events.next(100)) {
      if (pids.has(e.pid)) seen.push(e);
    }
  }
  return seen;
}

const kindsOf = (events: ExecEvent[]) => events.map((e) => e.kind);

ebpfTest(
  "exec events report a started program's pid with its binary and path, then its exit",
  async () => {
    const events = openExecEvents();
    try {
      const pid = await run("/bin/true");
      const seen = await collect(
        events,
        new Set([pid]),
        10_000,
        (s) => s.some((e) => e.kind === "exit"),
      );
      assert.deepEqual(kindsOf(seen), ["exec", "exit"]);
      const st = await Deno.stat("/bin/true");
      assert.equal(seen[0].path, "/bin/true");
      assert.equal(seen[0].ppid, Deno.pid);
      assert.ok(seen[0].binary, "the kernel read the executable's identity");
      assert.ok(sameBinary(seen[0].binary, st), "identity matches stat");
      assert.equal(seen[0].size, st.size);
    } finally {
      events.close();
    }
  },
);

ebpfTest(
  "a multi-threaded process's exit is reported once, when its last thread exits",
  async () => {
    const events = openExecEvents();
    try {
      // A Go program runs several threads.
      const go = new URL("../../build/bin/hello", import.meta.url).pathname;
      const child = new Deno.Command(go, {
        args: ["-duration", "100ms"],
        stdout: "null",
        stderr: "null",
        env: { OTEL_SERVICE_NAME: "exec-events-test" },
      }).spawn();
      await child.status;
      const seen = await collect(events, new Set([child.pid]), 3_000);
      assert.deepEqual(kindsOf(seen), ["exec", "exit"]);
    } finally {
      events.close();
    }
  },
);

ebpfTest(
  "a ruled-out binary's execs and exits wake no one; a new file, or the same file rewritten in place, is reported again",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "spanbridge-exec-" });
    const events = openExecEvents();
    try {
      const exe = `${dir}/true`;
      await Deno.copyFile("/bin/true", exe);
      await Deno.chmod(exe, 0o755);
      const first = await run(exe);
      const [exec] = await collect(
        events,
        new Set([first]),
        10_000,
        (s) => s.length > 0,
      );
      assert.ok(exec?.binary, "the first exec is reported with its binary");
      events.ruleOut(exec.binary);

      const pids = new Set<number>();
      for (let i = 0; i < 200; i++) pids.add(await run(exe));
      assert.deepEqual(await collect(events, pids, 1_000), []);

      // Another file with the same content: another inode.
      const copy = `${dir}/true2`;
      await Deno.copyFile(exe, copy);
      const other = await run(copy);
      assert.deepEqual(
        kindsOf(
          await collect(
            events,
            new Set([other]),
            10_000,
            (s) => s.length === 2,
          ),
        ),
        ["exec", "exit"],
      );

      // The ruled-out file rewritten in place: same inode, new change time.
      const bytes = await Deno.readFile(exe);
      const f = await Deno.open(exe, { write: true });
      await f.write(bytes);
      f.close();
      const rewritten = await run(exe);
      const seen = await collect(
        events,
        new Set([rewritten]),
        10_000,
        (s) => s.length === 2,
      );
      assert.deepEqual(kindsOf(seen), ["exec", "exit"]);
      assert.equal(seen[0].binary?.ino, exec.binary.ino);
    } finally {
      events.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

ebpfTest(
  "exits are reported for watched processes only; a watched process's exec of a ruled-out binary is reported",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "spanbridge-exec-" });
    const events = openExecEvents();
    try {
      const sleep = `${dir}/sleep`;
      await Deno.copyFile("/bin/sleep", sleep);
      await Deno.chmod(sleep, 0o755);
      const start = () =>
        new Deno.Command(sleep, { args: ["30"], stdout: "null" }).spawn();

      const unwatched = start();
      const [exec] = await collect(
        events,
        new Set([unwatched.pid]),
        10_000,
        (s) => s.length > 0,
      );
      assert.ok(exec?.binary);
      events.ruleOut(exec.binary);
      events.unwatch(unwatched.pid);
      unwatched.kill("SIGKILL");
      await unwatched.status;

      const watched = start(); // ruled out: its exec is not reported
      events.watch(watched.pid);
      watched.kill("SIGKILL");
      await watched.status;
      const seen = await collect(
        events,
        new Set([unwatched.pid, watched.pid]),
        1_500,
      );
      // Its exec is reported too when watch() came first (it is watched).
      assert.deepEqual(
        seen.filter((e) => e.pid === unwatched.pid || e.kind === "exit"),
        [{ pid: watched.pid, kind: "exit" }],
      );

      // A watched shell that executes the ruled-out binary.
      const sh = new Deno.Command("/bin/sh", {
        args: ["-c", `read x; exec ${sleep} 0`],
        stdin: "piped",
        stdout: "null",
      }).spawn();
      events.watch(sh.pid);
      const w = sh.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      await w.close();
      await sh.status;
      const shSeen = await collect(
        events,
        new Set([sh.pid]),
        10_000,
        (s) => s.some((e) => e.kind === "exit"),
      );
      assert.deepEqual(kindsOf(shSeen).slice(-2), ["exec", "exit"]);
      assert.equal(shSeen.at(-2)?.binary?.ino, exec.binary.ino);
    } finally {
      events.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("exec records decode, and identities compare with stat", () => {
  const binary: ExecBinary = {
    ino: 1234567n,
    dev: (259 << 20) | 3, // major 259, minor 3
    generation: 99,
    ctimeSec: 1_700_000_000n,
    ctimeNsec: 123_456_789,
  };
  // An exec record as bpf/exec.bpf.c sends it: it ends after the path's NUL.
  const at = execLayout.event.offsets;
  const rec = new Uint8Array(at.path + 10);
  const v = new DataView(rec.buffer);
  v.setUint32(at.tgid, 42, true);
  v.setUint32(at.kind, execLayout.KIND_EXEC, true);
  v.setUint32(at.ppid, 7, true);
  v.setUint32(at.path_len, 10, true);
  rec.set(encodeExecBinary(binary), at.binary);
  v.setBigUint64(at.size, 35_664n, true);
  rec.set(new TextEncoder().encode("/bin/true\0"), at.path);
  assert.deepEqual(decodeExecEvent(rec), {
    pid: 42,
    kind: "exec",
    ppid: 7,
    binary,
    size: 35_664,
    path: "/bin/true",
  });
  const exit = new Uint8Array(at.kind + 4);
  new DataView(exit.buffer).setUint32(at.tgid, 42, true);
  new DataView(exit.buffer).setUint32(at.kind, execLayout.KIND_EXIT, true);
  assert.deepEqual(decodeExecEvent(exit), { pid: 42, kind: "exit" });

  // stat shows major 259 minor 3 as 0x10303; Deno's change time, seconds.
  const st = {
    dev: 0x10303,
    ino: 1234567,
    ctime: new Date(1_700_000_000_123),
  };
  assert.ok(sameBinary(binary, st));
  assert.ok(!sameBinary(binary, { ...st, ino: 1234568 }));
  assert.ok(!sameBinary(binary, { ...st, dev: 0x10304 }));
  assert.ok(sameBinary(binary, { ...st, ctime: new Date(1_700_000_000_999) }));
  assert.ok(!sameBinary(binary, { ...st, ctime: new Date(1_700_000_001_000) }));
  assert.ok(!sameBinary(binary, { ...st, ctime: new Date(1_699_999_999_999) }));
  assert.ok(!sameBinary(binary, { ...st, ctime: null }));
  // A minor above 255 (e.g. an anonymous device of overlayfs or tmpfs).
  const anon = { ...binary, dev: 300 };
  assert.ok(sameBinary(anon, { ...st, dev: (300 & 0xff) | (1 << 20) }));
});

ebpfTest(
  "events the ring has no room for are counted in the kernel (exec_lost)",
  async () => {
    // One page holds ~45 exec records with a short path: 300 execs while
    // nobody reads overflow it, on any machine.
    const events = openExecEvents({ ringBytes: 4096 });
    try {
      assert.equal(events.lost(), 0);
      const pids = new Set<number>();
      for (let i = 0; i < 300; i++) pids.add(await run("/bin/true"));
      const lost = events.lost();
      assert.ok(lost > 0, `lost ${lost} events`);
      // What did fit is still read.
      assert.ok((await collect(events, pids, 1_000)).length > 0);
      assert.ok(events.lost() >= lost, "the counter never goes back");
    } finally {
      events.close();
    }
  },
);
