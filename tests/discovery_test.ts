/**
 * Finding what to attach to as processes and binaries come and go: `--all`
 * picks up SDK-linked processes within a second of their exec and ignores
 * other programs; a link lives as long as some process runs its binary; a
 * `--target` rewritten in place (same inode) is detached at once and
 * attached again at the new offset; container identity reaches the
 * resource. Every test narrows `--all` to its own directory with
 * --include-exe: the machine runs other people's SDK-linked programs.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  type LogLine,
  program,
  removePinRoot,
  root,
  runAllArgs,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import {
  attributeMap,
  type CollectingReceiver,
  collectingReceiver,
} from "../testing/receiver.ts";
import {
  assertHelloRunsArrived,
  type HelloRun,
  helloRunsArrived,
  runHello,
  startHello,
} from "../testing/hello.ts";
import { resolveTarget } from "../src/process/mod.ts";

const gate = (name: string) => !ebpfAvailable(`discovery: ${name}`);

/** Links pinned by the one instance under `pinRoot`. */
function pinnedLinks(pinRoot: string): string[] {
  const [dir] = [...Deno.readDirSync(pinRoot)].map((e) => e.name);
  return [...Deno.readDirSync(`${pinRoot}/${dir}/links`)].map((e) => e.name);
}

function logsOf(c: ControllerProcess, msg: string): LogLine[] {
  return c.logs.filter((l) => l.msg === msg);
}

/** What {@linkcode withAll} gives a test. */
interface AllFixture {
  receiver: CollectingReceiver;
  /** A copy of hello in a directory of its own. */
  hello: { exe: string; dir: string };
  pinRoot: string;
  /** Starts the controller of `--all` narrowed to `includeExe` (debug log). */
  start(includeExe: string): ControllerProcess;
}

/**
 * Runs `fn` with a receiver, a copy of hello and a pin root named `name`,
 * and the controller it starts (instance `name`); then stops and removes
 * them all.
 */
async function withAll(
  name: string,
  fn: (f: AllFixture) => Promise<void>,
): Promise<void> {
  const receiver = await collectingReceiver();
  const hello = await copyProgram("hello");
  const pinRoot = testPinRoot(name);
  let controller: ControllerProcess | undefined;
  const start = (includeExe: string) =>
    controller = new ControllerProcess([
      ...runAllArgs(includeExe, pinRoot, name),
      "--log-level",
      "debug",
    ], { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
  try {
    await fn({ receiver, hello, pinRoot, start });
  } finally {
    if (controller) await stopIfRunning(controller);
    await receiver.close();
    await hello.remove();
    removePinRoot(pinRoot);
  }
}

Deno.test({
  name:
    "--all attaches to a process started later within 1 s of its exec, once per binary, ignores a program without the SDK, and detaches when no process runs it",
  ignore: gate("--all"),
  fn: () =>
    withAll("all", async ({ receiver, hello, pinRoot, start }) => {
      const goroot = (await new Deno.Command("go", { args: ["env", "GOROOT"] })
        .output()).stdout;
      const plain = `${hello.dir}/gofmt`; // a Go program without the SDK
      await Deno.copyFile(
        `${new TextDecoder().decode(goroot).trim()}/bin/gofmt`,
        plain,
      );
      await Deno.chmod(plain, 0o755);
      const controller = start(`${hello.dir}/*`);
      await controller.waitFor("watching for new processes");
      assert.equal(
        (await controller.waitFor("watching for new processes")).by,
        "exec tracepoint",
      );
      // gofmt reads stdin until it is closed: it lives until it was seen.
      // Two run the same file, which is read once.
      const gofmts = [1, 2].map(() =>
        new Deno.Command(plain, { stdin: "piped", stdout: "null" }).spawn()
      );
      await controller.waitFor("not traced", 10_000, (l) => l.path === plain);

      // hello waits for the probe at most its duration: leave the attach
      // room on a loaded machine.
      const options = { rate: 50, durationMs: 1500 };
      const spawned = Date.now();
      const a = startHello(hello.exe, options);
      const b = startHello(hello.exe, options);
      const attached = await controller.waitFor(
        "attached",
        20_000,
        (l) => l.symbol !== undefined,
      );
      const latencyMs = Date.parse(attached.time as string) - spawned;
      console.log(`exec-to-attach: ${latencyMs} ms`);
      assert.ok(latencyMs < 1000, `attached ${latencyMs} ms after the exec`);
      assert.equal(attached.path, hello.exe);
      // Exec events are handled in order: both gofmts were looked at.
      assert.equal(
        controller.logs.filter((l) =>
          l.msg === "not traced" && l.path === plain
        ).length,
        1,
        "gofmt was read more than once",
      );
      for (const g of gofmts) await g.stdin.close();
      for (const g of gofmts) await g.status;
      const runs = [await a.done, await b.done];
      await waitUntil(
        () => helloRunsArrived(receiver.spans, runs),
        10_000,
        "the spans of both processes",
      );
      const made = assertHelloRunsArrived(receiver.spans, runs);
      assert.equal(
        logsOf(controller, "attached").filter((l) => l.symbol).length,
        1,
        "one link",
      );

      await controller.waitFor("detached", 10_000);
      assert.deepEqual(pinnedLinks(pinRoot), [], "links left");
      // Attached again for the next process.
      const c = await runHello(hello.exe, { rate: 50, durationMs: 1500 });
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [...runs, c]),
        10_000,
        "the spans of a third process",
      );

      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      assert.equal(
        stopped.received,
        made + assertHelloRunsArrived(receiver.spans, [c]),
      );
      assert.equal(stopped.dropped, 0);
      assert.ok(
        !controller.logs.some((l) => l.msg === "attached" && l.path === plain),
        "attached to a program without the SDK",
      );
    }),
});

Deno.test({
  name:
    "--all keeps a binary's link for a moment after its last process exits, so a program started again at once keeps its probe",
  ignore: gate("--all linger"),
  fn: () =>
    withAll("linger", async ({ receiver, hello, pinRoot, start }) => {
      const controller = start(hello.exe);
      await controller.waitFor("watching for new processes");
      // One after the other, each started as the one before exits.
      const runs: HelloRun[] = [];
      for (let i = 0; i < 3; i++) {
        runs.push(await runHello(hello.exe, { rate: 50, durationMs: 300 }));
      }
      await waitUntil(
        () => helloRunsArrived(receiver.spans, runs),
        10_000,
        "the spans of the three processes",
      );
      assertHelloRunsArrived(receiver.spans, runs);
      assert.equal(
        logsOf(controller, "attached").filter((l) => l.symbol).length,
        1,
        "one link",
      );
      assert.deepEqual(logsOf(controller, "detached"), [], "detached between");
      // Then it goes.
      const detached = await controller.waitFor("detached", 10_000);
      assert.equal(detached.reason, "no process runs it");
      assert.deepEqual(pinnedLinks(pinRoot), [], "links left");
    }),
});

Deno.test({
  name:
    "--all: a program without the SDK is ruled out in the kernel, and found again once rewritten in place with the SDK",
  ignore: gate("--all ruled out"),
  fn: () =>
    withAll("ruled-out", async ({ receiver, hello, start }) => {
      const app = `${hello.dir}/app`;
      await Deno.copyFile("/bin/true", app);
      await Deno.chmod(app, 0o755);
      const controller = start(`${hello.dir}/*`);
      await controller.waitFor("watching for new processes");
      // Exits at once: read through the path it executed.
      await new Deno.Command(app).output();
      await controller.waitFor(
        "ruled out in the kernel",
        10_000,
        (l) => l.path === app,
      );
      // The same inode, new content: an SDK-linked program.
      const bytes = await Deno.readFile(hello.exe);
      await Deno.writeFile(app, bytes);
      const run = await runHello(app, { rate: 50, durationMs: 1500 });
      await controller.waitFor("attached", 10_000, (l) => l.path === app);
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run]),
        10_000,
        "the spans of the rewritten program",
      );
      const made = assertHelloRunsArrived(receiver.spans, [run]);
      assert.equal((await controller.stop()).code, 0);
      assert.equal((await controller.waitFor("stopped")).received, made);
    }),
});

Deno.test({
  name:
    "a --target replaced by rename 20 times keeps one link; the old file's link goes when its last process exits",
  ignore: gate("rename"),
  async fn() {
    const receiver = await collectingReceiver();
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("rename");
    const controller = new ControllerProcess(
      ["run", "--target", hello.exe, "--pin-root", pinRoot, "--no-status"],
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    );
    try {
      await controller.waitFor("watching for new processes");
      const running = startHello(hello.exe, { rate: 20, durationMs: 6000 });
      await waitUntil(
        () => receiver.spans.length > 0,
        10_000,
        "the running process's first spans",
      );
      for (let i = 1; i <= 20; i++) {
        await Deno.copyFile(program("hello"), `${hello.exe}.new`);
        await Deno.rename(`${hello.exe}.new`, hello.exe);
        await waitUntil(
          () => logsOf(controller, "attached").length === i + 1,
          10_000,
          `attached to replacement ${i}`,
        );
        // At most the running process's file and the current one.
        const links = pinnedLinks(pinRoot).length;
        if (i === 1) assert.equal(links, 2, "links while the old file runs");
        assert.ok(links <= 2, `${links} links after replacement ${i}`);
      }
      const run = await running.done;
      await waitUntil(
        () => pinnedLinks(pinRoot).length === 1,
        10_000,
        "the old file's link to go",
      );
      const next = await runHello(hello.exe, { rate: 50, durationMs: 200 });
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run, next]),
        10_000,
        "every span of both processes",
      );
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      assert.equal(stopped.dropped, 0);
      assert.equal(stopped.recordsLost, 0);
    } finally {
      await stopIfRunning(controller);
      await receiver.close();
      await hello.remove();
      await removePinRoot(pinRoot);
    }
  },
});

/** Instruction start addresses llvm-objdump decodes around `addr` in `file`. */
async function instructionsAround(
  file: string,
  addr: number,
): Promise<number[]> {
  const out = await new Deno.Command("llvm-objdump", {
    args: [
      "-d",
      "--no-show-raw-insn",
      `--start-address=${addr - 64}`,
      `--stop-address=${addr + 16}`,
      file,
    ],
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return [
    ...new TextDecoder().decode(out.stdout).matchAll(
      /^\s+([0-9a-f]+):/gm,
    ),
  ].map((m) => parseInt(m[1], 16));
}

/**
 * Two built programs [old, new] such that old's probe offset falls inside an
 * instruction of new: the harm a stale uprobe does after a rewrite in place.
 */
async function midInstructionPair(): Promise<
  ["hello" | "showcase", "hello" | "showcase"]
> {
  const names = ["showcase", "hello"] as const;
  for (const from of names) {
    for (const to of names) {
      if (from === to) continue;
      const old = await resolveTarget(program(from));
      const next = await resolveTarget(program(to));
      const addr = old.endedOffset + (next.endedAddress - next.endedOffset);
      const starts = await instructionsAround(program(to), addr);
      if (starts.some((a) => a < addr) && !starts.includes(addr)) {
        return [from, to];
      }
    }
  }
  throw new Error("no two built programs put a probe offset mid-instruction");
}

Deno.test({
  name:
    "a --target rewritten in place (same inode) is detached at once and attached at its new offset",
  ignore: gate("rewrite in place"),
  async fn() {
    const [from, to] = await midInstructionPair();
    const receiver = await collectingReceiver();
    const target = await copyProgram(from);
    const pinRoot = testPinRoot("inplace");
    const controller = new ControllerProcess(
      ["run", "--target", target.exe, "--pin-root", pinRoot, "--no-status"],
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    );
    try {
      await controller.waitFor("watching for new processes");
      const ino = (await Deno.stat(target.exe)).ino;
      // `cp new old`: truncate and write the same inode.
      await Deno.writeFile(target.exe, await Deno.readFile(program(to)));
      assert.equal((await Deno.stat(target.exe)).ino, ino);
      const detached = await controller.waitFor("detached");
      assert.match(String(detached.reason), /rewritten in place/);
      const want = await resolveTarget(target.exe);
      await controller.waitFor(
        "attached",
        10_000,
        (l) => l.offset === want.endedOffset,
      );
      assert.deepEqual(pinnedLinks(pinRoot), [
        `${want.dev}_${want.ino}_${want.endedOffset}`,
      ]);
      if (to === "hello") {
        const run = await runHello(target.exe, { rate: 50, durationMs: 200 });
        await waitUntil(
          () => helloRunsArrived(receiver.spans, [run]),
          10_000,
          "the rewritten program's spans",
        );
      } else {
        // showcase exits 0 only when the probe was attached in time.
        const out = await new Deno.Command(target.exe, {
          args: ["-wait-attach", "10s"],
          stdout: "null",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      }
      assert.equal((await controller.stop()).code, 0);
    } finally {
      await stopIfRunning(controller);
      await receiver.close();
      await target.remove();
      await removePinRoot(pinRoot);
    }
  },
});

Deno.test({
  name:
    "spans of a process in a Podman-style cgroup carry its container.id; K8S_NODE_NAME names host and node",
  ignore: gate("container identity"),
  async fn() {
    const id = crypto.getRandomValues(new Uint8Array(32)).reduce(
      (s, b) => s + b.toString(16).padStart(2, "0"),
      "",
    );
    const parent = `/sys/fs/cgroup/pids/spanbridge-test-${Deno.pid}`;
    const cgroup = `${parent}/libpod-${id}`;
    await Deno.mkdir(cgroup, { recursive: true });
    const receiver = await collectingReceiver();
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("cgroup");
    const controller = new ControllerProcess(
      ["run", "--target", hello.exe, "--pin-root", pinRoot, "--no-status"],
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        K8S_NODE_NAME: "node-a",
      },
    );
    try {
      await controller.waitFor("attached");
      // Enters the cgroup before it executes hello, as a container would.
      const script = `${hello.dir}/in-cgroup`;
      await Deno.writeTextFile(
        script,
        `#!/bin/sh\necho $$ > ${cgroup}/cgroup.procs\nexec ${hello.exe} "$@"\n`,
      );
      await Deno.chmod(script, 0o755);
      // Short-lived, with every batch handed off at exit: it was described
      // when it was found, while it ran.
      const run = await runHello(script, { rate: 50, durationMs: 300 });
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run]),
        10_000,
        "the spans",
      );
      for (const s of receiver.spans) {
        const attrs = attributeMap(s.resource);
        assert.equal(
          attrs.get("container.id")?.stringValue,
          id,
          JSON.stringify(s.resource),
        );
        assert.equal(attrs.get("host.name")?.stringValue, "node-a");
        assert.equal(attrs.get("k8s.node.name")?.stringValue, "node-a");
      }
      assert.equal((await controller.stop()).code, 0);
    } finally {
      await stopIfRunning(controller);
      await receiver.close();
      await hello.remove();
      await removePinRoot(pinRoot);
      await Deno.remove(cgroup).catch(() => {});
      await Deno.remove(parent).catch(() => {});
    }
  },
});

for (const mode of ["--target", "--all --include-exe"] as const) {
  Deno.test({
    name:
      `${mode} <path> attaches to a process whose file at that path exists only in its own mount namespace, through /proc/<pid>/exe`,
    ignore: gate(`mount namespace, ${mode}`),
    async fn() {
      const receiver = await collectingReceiver();
      const hello = await copyProgram("hello");
      // In its namespace, hello runs its own copy at ns/app, on a tmpfs the
      // host does not see.
      const inside = `${hello.dir}/ns`;
      const path = `${inside}/app`;
      await Deno.mkdir(inside);
      if (mode === "--target") {
        // --target needs the path on the host too: another file there.
        await Deno.copyFile(hello.exe, path);
      }
      const script = `${hello.dir}/in-namespace`;
      await Deno.writeTextFile(
        script,
        `#!/bin/sh\nexec unshare -m sh -c 'mount -t tmpfs none ${inside} && cp ${hello.exe} ${path} && exec ${path} "$@"' sh "$@"\n`,
      );
      await Deno.chmod(script, 0o755);
      const pinRoot = testPinRoot("mntns");
      const args = mode === "--target"
        ? ["--target", path]
        : ["--all", "--include-exe", path];
      const controller = new ControllerProcess(
        ["run", ...args, "--pin-root", pinRoot, "--no-status"],
        { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
      );
      try {
        await controller.waitFor("watching for new processes");
        const run = await runHello(script, {
          rate: 50,
          durationMs: 1500,
          env: { OTEL_BSP_SCHEDULE_DELAY: "100" },
        });
        const attached = await controller.waitFor(
          "attached",
          1000,
          (l) => l.pid === run.pid,
        );
        assert.equal(attached.path, path);
        await waitUntil(
          () => helloRunsArrived(receiver.spans, [run]),
          10_000,
          "the spans",
        );
        const paths = new Set(
          receiver.spans.map((s) =>
            attributeMap(s.resource).get("process.executable.path")
              ?.stringValue
          ),
        );
        assert.deepEqual(paths, new Set([path]));
        await controller.waitFor("detached", 10_000, (l) => l.path === path);
        assert.equal((await controller.stop()).code, 0);
      } finally {
        await stopIfRunning(controller);
        await receiver.close();
        await hello.remove();
        await removePinRoot(pinRoot);
      }
    },
  });
}

/** Builds examples/hello into `dir/name` with `go build <flags>` and `env`. */
async function buildHello(
  dir: string,
  name: string,
  flags: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const out = `${dir}/${name}`;
  const built = await new Deno.Command("go", {
    args: ["build", ...flags, "-o", out, "./hello"],
    cwd: `${root}examples`,
    env,
  }).output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
  return out;
}

Deno.test({
  name:
    "--all attaches to stripped PIE -trimpath, cgo and Go 1.27 builds of an SDK-linked program",
  ignore: gate("build variants"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "spanbridge-variants-" });
    const receiver = await collectingReceiver();
    const pinRoot = testPinRoot("variants");
    let controller: ControllerProcess | undefined;
    try {
      const exes = [
        await buildHello(dir, "pie-stripped", [
          "-buildmode=pie",
          "-trimpath",
          "-ldflags=-s -w",
        ]),
        await buildHello(dir, "cgo", ["-ldflags=-linkmode=external"], {
          CGO_ENABLED: "1",
        }),
        await buildHello(dir, "go127", [], { GOTOOLCHAIN: "go1.27.3" }),
      ];
      controller = new ControllerProcess(
        [
          "run",
          "--all",
          "--include-exe",
          `${dir}/*`,
          "--pin-root",
          pinRoot,
          "--no-status",
        ],
        { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
      );
      await controller.waitFor("watching for new processes");
      const runs = await Promise.all(
        exes.map((exe) => runHello(exe, { rate: 50, durationMs: 1500 })),
      );
      await waitUntil(
        () => helloRunsArrived(receiver.spans, runs),
        10_000,
        "the spans of every build",
      );
      const attached = logsOf(controller, "attached").map((l) => l.path);
      assert.deepEqual(attached.sort(), [...exes].sort());
      assert.ok(
        logsOf(controller, "attached").some((l) => l.go === "go1.27.3"),
        "the Go 1.27 build",
      );
      assert.equal((await controller.stop()).code, 0);
    } finally {
      if (controller) await stopIfRunning(controller);
      await receiver.close();
      await removePinRoot(pinRoot);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "--pid puts the breakpoint in that process only: another process of the same binary sees no probe and sends nothing",
  ignore: gate("--pid in the kernel"),
  async fn() {
    const receiver = await collectingReceiver();
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("pid-only");
    const start = (wait: string) =>
      new Deno.Command(hello.exe, {
        args: ["-rate", "50", "-duration", "12s", "-wait-attach", wait],
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).spawn();
    // The target waits for the probe up to 10 s; the other one for 6 s,
    // long after the probe is in the target: it reports what it saw then.
    const target = start("10s");
    const other = start("6s");
    const controller = new ControllerProcess(
      [
        "run",
        "--pid",
        `${target.pid}`,
        "--pin-root",
        pinRoot,
        "--instance",
        "pid-only",
        "--no-status",
      ],
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    );
    try {
      const attached = await controller.waitFor("attached");
      const [t, o] = await Promise.all([target.output(), other.output()]);
      const dec = new TextDecoder();
      assert.match(dec.decode(t.stderr), /probe attached: true/);
      assert.match(
        dec.decode(o.stderr),
        /probe attached: false/,
        "the other process saw the probe",
      );
      assert.equal(attached.perProcess, true);
      const requests = Number(
        /handled (\d+) requests/.exec(dec.decode(t.stdout))?.[1],
      );
      const run = { pid: target.pid, requests, ms: 0 };
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run]),
        10_000,
        "every span of the target",
      );
      const made = assertHelloRunsArrived(receiver.spans, [run]);
      assert.equal(receiver.spans.length, made, "spans of the other process");
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      assert.equal(stopped.received, made);
    } finally {
      for (const p of [target, other]) {
        try {
          p.kill("SIGKILL");
        } catch {
          // Exited.
        }
      }
      await stopIfRunning(controller);
      await receiver.close();
      await hello.remove();
      await removePinRoot(pinRoot);
    }
  },
});
