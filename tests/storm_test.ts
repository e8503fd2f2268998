/**
 * Discovery under hostile process churn (issue 20, items 3 and 5): an exec
 * storm of distinct programs without the SDK, run as `nobody`, does not
 * keep `--all` from attaching to SDK-linked programs started during and
 * after it, nor from answering /healthz; and a chmod of a running traced
 * binary loses none of its spans. Every test narrows `--all` to its own
 * directory with --include-exe: the machine runs other people's programs.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  delay,
  ebpfAvailable,
  program,
  removePinRoot,
  runAllArgs,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import {
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
import {
  buildStormDriver,
  runStorm,
  writeStormPrograms,
} from "../testing/storm.ts";

const gate = (name: string) => !ebpfAvailable(`storm: ${name}`);

/** What a test of this file gets from {@linkcode withStorm}. */
interface StormScope {
  /** Its receiver. */
  receiver: CollectingReceiver;
  /** Its directory, readable by all (the storm runs as nobody). */
  dir: string;
  /**
   * Starts `run --all` narrowed to `dir`, with a telemetry listener and debug
   * logs; resolves once it watches. The scope stops it at the end.
   */
  startAgent(
    env?: Record<string, string>,
  ): Promise<{ controller: ControllerProcess; telemetry: string }>;
}

/**
 * Runs `fn` with a fresh receiver, directory and pin root named after
 * `name`, and removes them and stops the agent whatever happens.
 */
async function withStorm(
  name: string,
  fn: (scope: StormScope) => Promise<void>,
): Promise<void> {
  const receiver = await collectingReceiver();
  const dir = await Deno.makeTempDir({ prefix: `spanbridge-${name}-` });
  await Deno.chmod(dir, 0o755);
  const pinRoot = testPinRoot(name);
  let controller: ControllerProcess | undefined;
  const startAgent = async (env: Record<string, string> = {}) => {
    controller = new ControllerProcess([
      ...runAllArgs(`${dir}/**`, pinRoot, name),
      "--telemetry",
      "127.0.0.1:0",
      "--log-level",
      "debug",
    ], { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...env });
    await controller.waitFor("watching for new processes");
    const { address } = await controller.waitFor("telemetry listening");
    return { controller, telemetry: `http://${address}` };
  };
  try {
    await fn({ receiver, dir, startAgent });
  } finally {
    if (controller) await stopIfRunning(controller);
    await receiver.close();
    removePinRoot(pinRoot);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "an exec storm of 2,000 distinct programs by nobody at 5,000 execs/s does not stop --all attaching within seconds to SDK programs started during and after it, nor /healthz answering",
  ignore: gate("exec storm"),
  fn: () =>
    withStorm("storm", async ({ receiver, dir, startAgent }) => {
      const [driver, programs] = await Promise.all([
        buildStormDriver(dir),
        // Padded past the size under which no read is needed, and under
        // the size whose exec events go first: each is read, once, while
        // their events queue up in the later lane.
        writeStormPrograms(`${dir}/storm`, 2_000, 768 << 10),
      ]);
      // Each SDK program its own binary: each must be read.
      const hellos = [1, 2, 3].map((i) => `${dir}/hello-${i}`);
      for (const exe of hellos) {
        await Deno.copyFile(program("hello"), exe);
        await Deno.chmod(exe, 0o755);
      }
      const { controller, telemetry } = await startAgent();

      let probing = true;
      let healthzMaxMs = 0;
      const probes = (async () => {
        while (probing) {
          const t0 = performance.now();
          await (await fetch(`${telemetry}/healthz`)).body?.cancel();
          healthzMaxMs = Math.max(healthzMaxMs, performance.now() - t0);
          await delay(100);
        }
      })();
      const spawned: { exe: string; at: number }[] = [];
      const start = (exe: string, wrap?: string[], durationMs = 1000) => {
        spawned.push({ exe, at: Date.now() });
        const { done } = startHello(exe, { rate: 50, durationMs, wrap });
        // Awaited after the storm: its failure must not go unhandled before.
        done.catch(() => {});
        return done;
      };
      const storm = runStorm({
        driver,
        programs,
        rate: 5_000,
        durationMs: 2_000,
      });
      await delay(500);
      const during = [start(hellos[0])];
      await delay(700);
      // Started by a shell that executes it, as container entry points do:
      // the shell's exec event may be handled after hello's.
      // It runs past the 2 s a link outlives its last known process.
      during.push(start(hellos[1], ["/bin/sh", "-c", 'exec "$0" "$@"'], 4000));
      const { execs } = await storm;
      const after = start(hellos[2]);
      const runs: HelloRun[] = await Promise.all([...during, after]);
      probing = false;
      await probes;
      assert.ok(execs >= 5_000, `only ${execs} execs in the storm`);

      for (const { exe, at } of spawned) {
        const attached = await controller.waitFor(
          "attached",
          1_000,
          (l) => l.path === exe,
        );
        const ms = Date.parse(attached.time as string) - at;
        console.log(`${exe}: attached ${ms} ms after its exec`);
        assert.ok(ms < 3_000, `${exe} attached ${ms} ms after its exec`);
      }
      console.log(`/healthz took ${healthzMaxMs.toFixed(0)} ms at most`);
      assert.ok(healthzMaxMs < 1_000, `/healthz took ${healthzMaxMs} ms`);
      await waitUntil(
        () => helloRunsArrived(receiver.spans, runs),
        10_000,
        "the spans of the SDK programs",
      );
      const made = assertHelloRunsArrived(receiver.spans, runs);
      // Each storm program read once, however often it ran.
      const reads = controller.logs.filter((l) =>
        l.msg === "not traced" && String(l.path).startsWith(programs)
      ).map((l) => l.path);
      assert.ok(reads.length > 0, "no storm program was read");
      assert.equal(new Set(reads).size, reads.length, "a program read twice");
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      assert.equal(stopped.received, made);
      assert.equal(stopped.dropped, 0);
    }),
});

Deno.test({
  name:
    "chmod of a running traced binary, again and again while its processes start and emit, keeps its link and loses no span",
  ignore: gate("chmod"),
  fn: () =>
    withStorm("chmod", async ({ receiver, dir, startAgent }) => {
      const exe = `${dir}/hello`;
      await Deno.copyFile(program("hello"), exe);
      await Deno.chmod(exe, 0o755);
      const { controller } = await startAgent();
      const long = startHello(exe, { rate: 100, durationMs: 4_000 });
      await controller.waitFor("attached", 10_000, (l) => l.path === exe);
      // New processes of the binary make the controller look at it again,
      // each time with another change time.
      const runs: Promise<HelloRun>[] = [long.done];
      let changing = true;
      const chmods = (async () => {
        for (let i = 0; changing; i++) {
          await Deno.chmod(exe, i % 2 ? 0o755 : 0o775);
          await delay(50);
        }
      })();
      for (let i = 0; i < 6; i++) {
        await delay(500);
        runs.push(runHello(exe, { rate: 50, durationMs: 300 }));
      }
      const done = await Promise.all(runs);
      changing = false;
      await chmods;
      await waitUntil(
        () => helloRunsArrived(receiver.spans, done),
        10_000,
        "the spans of every process",
      );
      const made = assertHelloRunsArrived(receiver.spans, done);
      assert.deepEqual(
        controller.logs.filter((l) => l.msg === "detached"),
        [],
        "detached while processes ran",
      );
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      assert.equal(stopped.received, made);
      assert.equal(stopped.dropped, 0);
      assert.equal(stopped.processesUntraced, 0);
    }),
});

Deno.test({
  name:
    "exec events the ring had no room for are counted and warned about, /readyz says discovery lags until a /proc rescan caught up, and an SDK program started meanwhile is attached",
  ignore: gate("exec ring overflow"),
  fn: () =>
    withStorm("overflow", async ({ receiver, dir, startAgent }) => {
      const [driver, programs] = await Promise.all([
        buildStormDriver(dir),
        writeStormPrograms(`${dir}/storm`, 2_000),
      ]);
      const hello = `${dir}/hello`;
      await Deno.copyFile(program("hello"), hello);
      await Deno.chmod(hello, 0o755);
      // One page: ~40 exec events, overflowed by any storm.
      const { controller, telemetry } = await startAgent({
        SPANBRIDGE_EXEC_RING_SIZE: "4K",
      });
      let probing = true;
      const notReady: string[] = [];
      const probes = (async () => {
        while (probing) {
          const res = await fetch(`${telemetry}/readyz`);
          const body = await res.text();
          if (res.status !== 200) notReady.push(body);
          await delay(100);
        }
      })();
      const storm = runStorm({
        driver,
        programs,
        rate: 5_000,
        durationMs: 1_500,
      });
      // A reader that keeps up never lets the ring overflow (most execs of
      // a ruled-out program are dropped in the kernel anyway): stopped for
      // half a second, it must.
      Deno.kill(controller.pid, "SIGSTOP");
      await delay(500);
      Deno.kill(controller.pid, "SIGCONT");
      await delay(200);
      const spawnedAt = Date.now();
      const { done } = startHello(hello, { rate: 50, durationMs: 1000 });
      done.catch(() => {}); // awaited below
      await storm;
      const run = await done;
      const attached = await controller.waitFor(
        "attached",
        1_000,
        (l) => l.path === hello,
      );
      const ms = Date.parse(attached.time as string) - spawnedAt;
      console.log(`hello attached ${ms} ms after its exec`);
      assert.ok(ms < 5_000, `attached ${ms} ms after its exec`);
      const lost = await controller.waitFor("exec events lost", 5_000);
      assert.ok(Number(lost.lost) > 0);
      // Ready again once caught up.
      await waitUntil(
        async () => (await fetch(`${telemetry}/readyz`)).status === 200,
        20_000,
        "ready again after the storm",
      );
      probing = false;
      await probes;
      assert.ok(
        notReady.some((body) => /FAIL discovery: lagging/.test(body)),
        `never said discovery lags: ${notReady.join("\n")}`,
      );
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run]),
        10_000,
        "the spans of the SDK program",
      );
      const made = assertHelloRunsArrived(receiver.spans, [run]);
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      assert.equal(stopped.received, made);
      assert.ok(Number(stopped.execEventsLost) >= Number(lost.total));
    }),
});
