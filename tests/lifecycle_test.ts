/**
 * Targets and controllers that come and go: a target that exits with its
 * spans still in the ring, hundreds of short-lived targets, and a controller
 * killed with SIGKILL and restarted. Spans handed to ended() arrive once
 * each, and nothing leaks: file descriptors, uprobe links, pins, programs,
 * maps.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  fdCount,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import { attributeMap, collectingReceiver } from "../testing/receiver.ts";
import {
  assertHelloRunsArrived,
  helloRunsArrived,
  runHello,
  runHelloMany,
} from "../testing/hello.ts";
import { traceHello } from "../testing/traced.ts";
import {
  assertUnloaded,
  instanceDirs,
  instanceObjects,
} from "../testing/bpf_objects.ts";

const gate = (name: string) => !ebpfAvailable(`lifecycle: ${name}`);

Deno.test({
  name:
    "spans a target handed off before it exited arrive after it is gone, with its pid",
  ignore: gate("target exit"),
  async fn() {
    const receiver = await collectingReceiver();
    const traced = await traceHello({
      tag: "exit",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    });
    try {
      // The controller reads nothing while stopped: the batches the target
      // hands off sit in the ring until after it exited.
      traced.controller.child.kill("SIGSTOP");
      const run = await runHello(traced.exe, { rate: 100, durationMs: 300 });
      traced.controller.child.kill("SIGCONT");
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run]),
        10_000,
        "the spans of the exited target",
      );
      assertHelloRunsArrived(receiver.spans, [run]);
      for (const s of receiver.spans) {
        assert.equal(
          attributeMap(s.resource).get("process.pid")?.intValue,
          `${run.pid}`,
        );
      }
      assert.equal((await traced.controller.stop()).code, 0);
      const stopped = await traced.controller.waitFor("stopped");
      assert.equal(stopped.dropped, 0);
      assert.equal(stopped.recordsLost, 0);
    } finally {
      await traced.close();
      await receiver.close();
    }
  },
});

Deno.test({
  name:
    "200 short-lived targets: every span arrives, and no fd, link, pin, program or map is left behind",
  ignore: gate("short-lived targets"),
  async fn() {
    const receiver = await collectingReceiver();
    const traced = await traceHello({
      tag: "many",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    });
    try {
      const options = { rate: 400, durationMs: 20 };
      // Warm up: the exporter's connection and the reader are open after it.
      const first = await runHello(traced.exe, options);
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [first]),
        10_000,
        "the first run's spans",
      );
      const pid = traced.controller.pid;
      const fdsBefore = fdCount(pid);
      const objects = await instanceObjects(traced.pinRoot);
      assert.equal(objects.linkIds.length, 1, "links before");

      const runs = await runHelloMany(traced.exe, 200, 4, options);
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [first, ...runs]),
        30_000,
        "the spans of 200 runs",
      );
      const made = assertHelloRunsArrived(receiver.spans, [first, ...runs]);
      assert.equal(receiver.spans.length, made, "spans of unknown processes");

      const fdsAfter = fdCount(pid);
      assert.ok(
        fdsAfter <= fdsBefore + 4,
        `controller fds grew from ${fdsBefore} to ${fdsAfter}`,
      );
      const after = await instanceObjects(traced.pinRoot);
      assert.deepEqual(after, objects, "instance objects changed");

      assert.equal((await traced.controller.stop()).code, 0);
      const stopped = await traced.controller.waitFor("stopped");
      assert.equal(stopped.received, made);
      assert.equal(stopped.exported, made);
      assert.equal(stopped.recordsLost, 0);
      assert.deepEqual(instanceDirs(traced.pinRoot), [], "pins left");
      await assertUnloaded(objects);
    } finally {
      await traced.close();
      await receiver.close();
    }
  },
});

Deno.test({
  name:
    "a controller restarted after SIGKILL adopts the pins and delivers what the ring held, once; spans the killed one had read but not exported are lost (not tested)",
  ignore: gate("SIGKILL restart"),
  async fn() {
    const receiver = await collectingReceiver();
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("sigkill");
    const args = [
      "run",
      "--target",
      hello.exe,
      "--pin-root",
      pinRoot,
      "--instance",
      "killed",
      "--no-status",
    ];
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint };
    const first = new ControllerProcess(args, env);
    let second: ControllerProcess | undefined;
    try {
      await first.waitFor("attached");
      const options = { rate: 100, durationMs: 300 };
      const a = await runHello(hello.exe, options);
      // Everything the first controller read is exported before it is
      // killed: the spans it would still hold in memory would be lost.
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [a]),
        10_000,
        "run A's spans",
      );
      first.child.kill("SIGSTOP");
      const b = await runHello(hello.exe, options); // left in the ring
      first.child.kill("SIGKILL");
      await first.wait();
      assert.equal(instanceDirs(pinRoot).length, 1, "the pins survive SIGKILL");

      second = new ControllerProcess(args, env);
      await second.waitFor(
        "adopted the probe instance of a controller that exited",
      );
      await second.waitFor("attached");
      const objects = await instanceObjects(pinRoot);
      assert.equal(objects.linkIds.length, 1, "exactly one link");
      const c = await runHello(hello.exe, options);
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [a, b, c]),
        10_000,
        "runs B (from the ring) and C (after the restart)",
      );
      const made = assertHelloRunsArrived(receiver.spans, [a, b, c]);
      assert.equal(receiver.spans.length, made, "duplicates or strangers");

      assert.equal((await second.stop()).code, 0);
      const stopped = await second.waitFor("stopped");
      assert.equal(stopped.dropped, 0);
      assert.equal(stopped.recordsLost, 0);
      assert.deepEqual(instanceDirs(pinRoot), [], "pins left");
      await assertUnloaded(objects);
    } finally {
      await stopIfRunning(first);
      if (second) await stopIfRunning(second);
      await receiver.close();
      await hello.remove();
      await removePinRoot(pinRoot);
    }
  },
});
