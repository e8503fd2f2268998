/**
 * One instance name, one controller: a second controller started with the
 * name of a running one is refused (it would export every span twice), and
 * a controller restarted after SIGKILL with other targets traces only what
 * it was asked to, not what the killed one was.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  runCli,
  stopIfRunning,
  testPinRoot,
  traceTarget,
  waitUntil,
} from "../testing/harness.ts";
import { collectingReceiver } from "../testing/receiver.ts";
import { helloRunsArrived, runHello } from "../testing/hello.ts";

const gate = (name: string) => !ebpfAvailable(`instance: ${name}`);

Deno.test({
  name:
    "a second controller with the --instance of a running one says so in one line and exits 2",
  ignore: gate("same name twice"),
  async fn() {
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("same-instance");
    const args = [
      "run",
      "--target",
      hello.exe,
      "--pin-root",
      pinRoot,
      "--instance",
      "twice",
      "--no-status",
    ];
    const first = new ControllerProcess(args, { OTEL_TRACES_EXPORTER: "none" });
    try {
      await first.waitFor("attached");
      const second = await runCli([...args, "--log-format", "json"], {
        env: { OTEL_TRACES_EXPORTER: "none" },
      });
      assert.equal(second.code, 2, second.stderr);
      const lines = second.stderr.trim().split("\n");
      const last = JSON.parse(lines.at(-1)!);
      assert.match(
        last.msg,
        new RegExp(
          `instance "twice" is in use by the running controller with pid ${first.pid}`,
        ),
      );
      assert.ok(lines.every((l) => !l.includes('"attached"')), second.stderr);
      assert.equal([...Deno.readDirSync(pinRoot)].length, 1);
      assert.equal((await first.stop()).code, 0, first.dump());
    } finally {
      await stopIfRunning(first);
      await hello.remove();
      removePinRoot(pinRoot);
    }
  },
});

Deno.test({
  name:
    "a controller restarted after SIGKILL with another --target detaches the killed one's target",
  ignore: gate("restart with another target"),
  async fn() {
    const receiver = await collectingReceiver();
    const before = await copyProgram("hello");
    const after = await copyProgram("hello");
    const pinRoot = testPinRoot("retarget");
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint };
    const first = traceTarget(before.exe, pinRoot, "retarget", env);
    let second: ControllerProcess | undefined;
    try {
      await first.waitFor("attached");
      first.child.kill("SIGKILL");
      await first.wait();

      second = traceTarget(after.exe, pinRoot, "retarget", env);
      await second.waitFor(
        "adopted the probe instance of a controller that exited",
      );
      await second.waitFor(
        "detached an adopted attachment the command did not ask for",
      );
      const options = { rate: 100, durationMs: 300 };
      const wanted = await runHello(after.exe, options);
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [wanted]),
        10_000,
        "the spans of the new target",
      );
      // The old target is no longer probed: its SDK sees no probe at all.
      await assert.rejects(
        runHello(before.exe, options),
        /hello ran without the probe/,
      );
      assert.equal((await second.stop()).code, 0, second.dump());
    } finally {
      await stopIfRunning(first);
      if (second) await stopIfRunning(second);
      await receiver.close();
      await before.remove();
      await after.remove();
      removePinRoot(pinRoot);
    }
  },
});
