/**
 * The kernel matrix's scenarios, run inside each virtual machine (and on
 * this machine's own kernel): the controller as a user runs it, the hello
 * example as the traced program, a receiver on loopback. Each scenario
 * prints one JSON line to stdout, `{"scenario", "ok", "ms", "facts"}` or
 * with `"error"`; the exit status is 0 when all passed.
 *
 * Usage: deno run -A _scenarios.ts --controller <spanbridge.js> --hello <exe>
 *        --showcase <exe> --pin-root <dir> [--only name,...]
 *
 * `--controller` is the controller bundled into one file (matrix_test.ts
 * says why), run with this same Deno.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { ControllerProcess, delay, waitUntil } from "../../testing/harness.ts";
import {
  attributeMap,
  type CollectingReceiver,
  collectingReceiver,
  type ReceivedSpan,
} from "../../testing/receiver.ts";
import {
  assertHelloRunsArrived,
  helloRunsArrived,
  runHello,
  startHello,
  wholeHelloTraces,
} from "../../testing/hello.ts";
import { resolveTarget } from "../../src/process/mod.ts";
import { assertSpans, recordShowcase } from "../../testing/assert_spans.ts";

const { values: args } = parseArgs({
  options: {
    controller: { type: "string" },
    hello: { type: "string" },
    showcase: { type: "string" },
    "pin-root": { type: "string" },
    only: { type: "string" },
  },
});
const bundle = args.controller!;
const hello = args.hello!;
const showcase = args.showcase!;
const pinRoot = args["pin-root"]!;
const tag = `k${Deno.pid}`;

/** What a scenario found out, printed with its result. */
type Facts = Record<string, unknown>;

/** `spanbridge run <args>` with the given receiver, as JSON logs. */
function controller(
  args: string[],
  receiver: CollectingReceiver,
): ControllerProcess {
  return new ControllerProcess(
    [
      "run",
      "-A",
      "--v8-flags=--max-semi-space-size=1",
      bundle,
      "run",
      ...args,
      "--pin-root",
      pinRoot,
    ],
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "100",
    },
    { command: Deno.execPath() },
  );
}

/** Environment of a traced hello: hand batches off quickly. */
const helloEnv = { OTEL_BSP_SCHEDULE_DELAY: "100" };

/**
 * Waits for the controller's log line `msg`, or fails at once with its logs
 * when it exits first (a kernel that refuses it must not cost a timeout).
 */
function logged(c: ControllerProcess, msg: string, timeoutMs: number) {
  const exited = c.child.status.then((status) => {
    // Its last lines may still be on their way.
    return delay(200).then(() => {
      const line = c.logs.find((l) => l.msg === msg);
      if (line) return line;
      throw new Error(
        `controller exited with ${status.code} before logging "${msg}":\n${c.dump()}`,
      );
    });
  });
  const waiting = c.waitFor(msg, timeoutMs);
  // The loser of the race must not end the run as an unhandled rejection.
  waiting.catch(() => {});
  exited.catch(() => {});
  return Promise.race([waiting, exited]);
}

/** The facts every controller logs at start: program and attachment mode. */
async function probeFacts(c: ControllerProcess): Promise<Facts> {
  const program = await logged(c, "probe program", 90_000);
  const mode = await logged(c, "uprobe attachments", 60_000);
  return {
    kernel: program.kernel,
    kind: program.kind,
    kindWhy: program.why,
    attachMode: mode.mode,
  };
}

/** Stops `c` and checks its `stopped` line balances with `spans` received. */
async function stopBalanced(c: ControllerProcess, spans: number) {
  const status = await c.stop();
  const stopped = await c.waitFor("stopped");
  assert.equal(status.code, 0, c.dump());
  assert.equal(stopped.received, spans, c.dump());
  assert.equal(stopped.exported, spans, c.dump());
  assert.equal(stopped.dropped, 0, c.dump());
  assert.equal(stopped.recordsLost, 0, c.dump());
  assert.equal(stopped.recordsCorrupt, 0, c.dump());
  assert.equal(stopped.batchesLost, 0, c.dump());
  return stopped;
}

/**
 * The first byte of the probe point in process `pid`, as its SDK reads it:
 * 0x0f (the NOP: no probe), 0xcc (a breakpoint uprobe) or 0xe8 (a call
 * into an optimized uprobe's trampoline, 6.18+, after the first hit).
 */
async function probeByte(pid: number, exe: string): Promise<number> {
  const { endedOffset } = await resolveTarget(exe);
  const maps = Deno.readTextFileSync(`/proc/${pid}/maps`);
  for (const line of maps.split("\n")) {
    const [range, , off] = line.split(/\s+/);
    if (!line.endsWith(exe) || !range) continue;
    const [start, end] = range.split("-").map((h) => parseInt(h, 16));
    const fileOff = parseInt(off, 16);
    if (endedOffset >= fileOff && endedOffset < fileOff + end - start) {
      const mem = Deno.openSync(`/proc/${pid}/mem`);
      try {
        mem.seekSync(start + endedOffset - fileOff, Deno.SeekMode.Start);
        const b = new Uint8Array(1);
        mem.readSync(b);
        return b[0];
      } finally {
        mem.close();
      }
    }
  }
  throw new Error(`process ${pid} has no mapping of ${exe}`);
}

/**
 * Reads the probe byte of `pid` every 20 ms until stopped, and returns the
 * last value read while the process lived (it may exit first).
 */
function watchProbeByte(pid: number, exe: string): { stop(): Promise<number> } {
  let last: number | undefined;
  let done = false;
  const loop = (async () => {
    while (!done) {
      try {
        last = await probeByte(pid, exe);
      } catch {
        return; // exited
      }
      await delay(20);
    }
  })();
  return {
    async stop() {
      done = true;
      await loop;
      if (last === undefined) throw new Error(`process ${pid} exited at once`);
      return last;
    },
  };
}

function uprobeKind(byte: number): string {
  return byte === 0xcc
    ? "breakpoint"
    : byte === 0xe8
    ? "optimized"
    : `none (0x${byte.toString(16)})`;
}

/** `run --target`: every span of hello arrives, the stopped line balances. */
async function target(): Promise<Facts> {
  const receiver = await collectingReceiver();
  const c = controller(
    ["--target", hello, "--instance", `${tag}-target`],
    receiver,
  );
  try {
    const facts = await probeFacts(c);
    const started = startHello(hello, {
      rate: 50,
      durationMs: 8000,
      env: helloEnv,
    });
    // The last look while hello runs, after its first spans were handed off.
    const watch = watchProbeByte(started.pid, hello);
    await waitUntil(() => receiver.spans.length > 0, 30_000, "first spans");
    const byte = await watch.stop();
    const run = await started.done;
    await waitUntil(
      () => helloRunsArrived(receiver.spans, [run]),
      30_000,
      `all ${run.requests} traces of hello`,
    );
    const spans = assertHelloRunsArrived(receiver.spans, [run]);
    await stopBalanced(c, spans);
    return { ...facts, uprobe: uprobeKind(byte), spans };
  } finally {
    await c.stop();
    await receiver.close();
  }
}

/** A hello that makes traces at once and runs until SIGTERM. */
function helloUntilStopped(): Deno.ChildProcess {
  return new Deno.Command(hello, {
    args: ["-rate", "50"],
    env: helloEnv,
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Stops a {@linkcode helloUntilStopped} process; it flushes as it exits. */
async function stopHello(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // It exited.
  }
  await child.status;
}

/**
 * True for the spans of a request whose server span began before the
 * probe was there (so did not record): its later spans recorded, as a
 * trace of their own without it.
 */
function begunUnprobed(spans: ReceivedSpan[]): boolean {
  return !spans.some((s) =>
    s.span.kind === 2 || s.span.kind === "SPAN_KIND_SERVER"
  );
}

/**
 * Spans of a hello request besides its server span: each becomes a trace
 * of its own when the server span began before the probe was there.
 */
const childSpans = 3;

/**
 * Asserts that every trace in `received` arrived whole but for the spans
 * of at most `attaches` requests that were under way when a probe came
 * (one per attach); returns the whole ones.
 */
function assertWholeTraces(received: ReceivedSpan[], attaches: number): number {
  const byTrace = Map.groupBy(received, (r) => r.span.traceId);
  const whole = wholeHelloTraces(received);
  const partial = [...byTrace.values()].filter((spans) =>
    wholeHelloTraces(spans) === 0
  );
  assert.ok(
    partial.length <= attaches * childSpans && partial.every(begunUnprobed),
    `${partial.length} traces arrived in part: ${
      JSON.stringify(partial.map((t) => t.map((s) => s.span.name)))
    }`,
  );
  return whole;
}

/**
 * Every SDK feature the showcase example makes arrives span by span, as
 * the Go program made it (tests/showcase_test.ts on this kernel).
 */
async function showcaseSpans(): Promise<Facts> {
  const receiver = await collectingReceiver();
  const c = controller(
    ["--target", showcase, "--instance", `${tag}-showcase`],
    receiver,
  );
  const recordFile = Deno.makeTempFileSync({ suffix: ".json" });
  try {
    await probeFacts(c);
    const record = await recordShowcase(showcase, recordFile);
    await waitUntil(
      () => receiver.spans.length >= record.spans.length,
      30_000,
      `the showcase's ${record.spans.length} spans`,
    );
    await stopBalanced(c, record.spans.length);
    assertSpans(record, receiver.spans, "protobuf");
    return { spans: record.spans.length };
  } finally {
    await c.stop();
    await receiver.close();
    Deno.removeSync(recordFile);
  }
}

/**
 * `run --pid`: the breakpoint is put into that process only; a second
 * process of the same binary sees no probe. Both make traces from the
 * start; those of the traced one that began once it was attached arrive.
 */
async function pid(): Promise<Facts> {
  const receiver = await collectingReceiver();
  const traced = helloUntilStopped();
  const other = helloUntilStopped();
  const c = controller(
    ["--pid", `${traced.pid}`, "--instance", `${tag}-pid`],
    receiver,
  );
  try {
    const facts = await probeFacts(c);
    await waitUntil(() => receiver.spans.length > 0, 60_000, "first spans");
    const tracedByte = await probeByte(traced.pid, hello);
    const otherByte = await probeByte(other.pid, hello);
    assert.equal(otherByte, 0x0f, "the untraced process sees a probe");
    await delay(2000);
    await stopHello(traced);
    await delay(1000);
    const pids = new Set(
      receiver.spans.map((s) =>
        attributeMap(s.resource).get("process.pid")?.intValue
      ),
    );
    assert.deepEqual([...pids], [`${traced.pid}`]);
    const traces = assertWholeTraces(receiver.spans, 1);
    await stopBalanced(c, receiver.spans.length);
    return {
      attachMode: facts.attachMode,
      traced: uprobeKind(tracedByte),
      untraced: uprobeKind(otherByte),
      traces,
    };
  } finally {
    await stopHello(traced);
    await stopHello(other);
    await c.stop();
    await receiver.close();
  }
}

/**
 * A controller killed with SIGKILL while hello runs, then started again
 * with the same instance name. With pinned links the probe stays and the
 * new controller adopts the ring: every trace arrives. With held perf
 * events the kernel removes the breakpoint with the controller: hello
 * keeps running and its SDK sees the probe point unprobed, the new
 * controller attaches again, and every trace that arrives is whole.
 */
async function restart(): Promise<Facts> {
  const receiver = await collectingReceiver();
  const name = `${tag}-restart`;
  const first = controller(["--target", hello, "--instance", name], receiver);
  let second: ControllerProcess | undefined;
  let running: ReturnType<typeof startHello> | undefined;
  try {
    const facts = await probeFacts(first);
    // Long enough for the second controller to start under emulation.
    running = startHello(hello, {
      rate: 50,
      durationMs: 20_000,
      env: helloEnv,
    });
    await waitUntil(() => receiver.spans.length >= 20, 30_000, "first spans");
    const before = await probeByte(running.pid, hello);
    const killedAt = Date.now();
    first.child.kill("SIGKILL");
    await first.wait();
    await delay(200);
    const afterKill = await probeByte(running.pid, hello);
    const held = facts.attachMode === "held";
    assert.equal(
      afterKill === 0x0f,
      held,
      `probe byte after SIGKILL: 0x${afterKill.toString(16)}`,
    );
    second = controller(["--target", hello, "--instance", name], receiver);
    const adopted = await second.waitFor(
      "adopted the probe instance of a controller that exited",
      90_000,
    );
    const run = await running.done;
    await waitUntilSteady(receiver);
    // What the killed controller had read from the ring and not yet
    // delivered died with it: only spans that ended just before the kill.
    // Everything else arrives, what was still in the ring and what the
    // SDK held while no probe was there included.
    const cut = tracesCutBy(receiver.spans, killedAt);
    const status = await second.stop();
    const stopped = await second.waitFor("stopped");
    assert.equal(status.code, 0, second.dump());
    assert.equal(stopped.dropped, 0, second.dump());
    assert.equal(stopped.recordsLost, 0, second.dump());
    assert.equal(stopped.recordsCorrupt, 0, second.dump());
    assert.equal(stopped.batchesLost, 0, second.dump());
    return {
      attachMode: facts.attachMode,
      probeBeforeKill: uprobeKind(before),
      probeAfterKill: uprobeKind(afterKill),
      adoptedFrom: adopted.from,
      requests: run.requests,
      tracesArrived: wholeHelloTraces(receiver.spans),
      tracesCutByKill: cut.partial,
    };
  } finally {
    await first.stop();
    if (second) await second.stop();
    await running?.done.catch(() => {});
    await receiver.close();
  }
}

/** Waits until no span arrived for 1.5 s. */
async function waitUntilSteady(receiver: CollectingReceiver): Promise<void> {
  let seen = -1;
  while (seen !== receiver.spans.length) {
    seen = receiver.spans.length;
    await delay(1500);
  }
}

/**
 * Counts the traces of `received` that arrived in part, and asserts that a
 * SIGKILL at `killedAt` cut each: every span of it ended in the 3 s before
 * the kill (the reach of the killed controller's export queue), but for
 * one request under way when the probe came back.
 */
function tracesCutBy(
  received: ReceivedSpan[],
  killedAt: number,
): { partial: number } {
  const byTrace = Map.groupBy(received, (r) => r.span.traceId);
  let partial = 0;
  let begun = 0;
  for (const [traceId, spans] of byTrace) {
    if (wholeHelloTraces(spans) === 1) continue;
    partial++;
    // One request may have been under way when the probe came back.
    if (begunUnprobed(spans) && begun++ < childSpans) continue;
    for (const { span } of spans) {
      const endMs = Number(BigInt(span.endTimeUnixNano) / 1_000_000n);
      assert.ok(
        endMs > killedAt - 3000 && endMs <= killedAt + 500,
        `trace ${traceId} arrived in part, with a span that ended ${
          endMs - killedAt
        } ms from the kill`,
      );
    }
  }
  return { partial };
}

/**
 * `run --all`: a program started after the agent is found through the exec
 * program (not a /proc rescan) and traced; a program without the SDK is
 * ruled out in the kernel by its identity, change time included (read with
 * CO-RE from this kernel's inode layout), and found again once rewritten
 * in place with the SDK.
 */
async function all(): Promise<Facts> {
  const receiver = await collectingReceiver();
  const dir = Deno.makeTempDirSync({ prefix: "spanbridge-kernels-" });
  const late = `${dir}/hello-late`;
  const app = `${dir}/app`;
  Deno.copyFileSync(hello, late);
  Deno.copyFileSync("/bin/true", app);
  Deno.chmodSync(late, 0o755);
  const c = controller(
    [
      "--all",
      "--include-exe",
      `${dir}/**`,
      "--instance",
      `${tag}-all`,
      "--log-level",
      "debug",
    ],
    receiver,
  );
  // The whole run includes the wait for the probe, slow under emulation.
  const options = { rate: 50, durationMs: 8000, env: helloEnv };
  try {
    await logged(c, "probe program", 90_000);
    const discovery = await logged(c, "watching for new processes", 60_000);
    assert.equal(discovery.by, "exec tracepoint", c.dump());
    const run = await runHello(late, options);
    await new Deno.Command(app).output();
    await c.waitFor("ruled out in the kernel", 60_000, (l) => l.path === app);
    // The same inode, new content and change time: an SDK-linked program.
    Deno.writeFileSync(app, Deno.readFileSync(hello));
    const rewritten = await runHello(app, options);
    await waitUntil(
      () => helloRunsArrived(receiver.spans, [run, rewritten]),
      30_000,
      `all traces of the late and the rewritten hello`,
    );
    const spans = assertHelloRunsArrived(receiver.spans, [run, rewritten]);
    await stopBalanced(c, spans);
    return { discovery: discovery.by, spans };
  } finally {
    await c.stop();
    await receiver.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

const scenarios: Record<string, () => Promise<Facts>> = {
  target,
  showcase: showcaseSpans,
  pid,
  restart,
  all,
};

const only = args.only?.split(",");
let failed = 0;
for (const [name, run] of Object.entries(scenarios)) {
  if (only && !only.includes(name)) continue;
  const t0 = performance.now();
  try {
    const facts = await run();
    console.log(JSON.stringify({
      scenario: name,
      ok: true,
      ms: Math.round(performance.now() - t0),
      facts,
    }));
  } catch (e) {
    failed++;
    console.log(JSON.stringify({
      scenario: name,
      ok: false,
      ms: Math.round(performance.now() - t0),
      error: e instanceof Error ? e.stack ?? e.message : String(e),
    }));
  }
}
Deno.exit(failed ? 1 : 0);
