/**
 * Stopping under stress, end to end: a second signal during the stop, and a
 * standard error nobody reads any more. Either way the controller removes
 * its pins (so no uprobe stays behind to collect spans later) and, where
 * anyone can read it, logs a balanced `stopped` line.
 */
import assert from "node:assert/strict";
import {
  copyProgram,
  delay,
  ebpfAvailable,
  removePinRoot,
  root,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import { unusedPort } from "../testing/receiver.ts";
import { runHello } from "../testing/hello.ts";
import { traceHello } from "../testing/traced.ts";
import { instanceDirs } from "../testing/bpf_objects.ts";

const gate = (name: string) => !ebpfAvailable(`stop: ${name}`);

Deno.test({
  name:
    "a second SIGINT during the stop cuts the flush short, yet the pins are removed and a balanced stopped line is logged",
  ignore: gate("second signal"),
  async fn() {
    // Nobody listens: every export is retried, so the stop would wait for
    // the whole 10 s flush.
    const traced = await traceHello({
      tag: "second-signal",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${unusedPort()}` },
    });
    try {
      await runHello(traced.exe, {
        rate: 100,
        durationMs: 300,
        env: { OTEL_BSP_SCHEDULE_DELAY: "100" },
      });
      const c = traced.controller;
      await waitUntil(
        () => c.logs.some((l) => l.msg.startsWith("Cannot export")),
        10_000,
        "an export failure (the spans are queued)",
      );
      const start = Date.now();
      c.child.kill("SIGINT");
      await c.waitFor("stopping");
      await delay(200);
      c.child.kill("SIGINT"); // as `deno task` forwards one Ctrl-C
      const status = await c.wait();
      const stopped = await c.waitFor("stopped", 1000);
      assert.ok(Date.now() - start < 8000, "the flush was not cut short");
      const s = stopped as Record<string, number>;
      assert.ok(s.received > 0, c.dump());
      assert.equal(s.received, s.exported + s.dropped, c.dump());
      assert.equal(s.exported, 0);
      assert.equal(status.code, 4, "spans were dropped: exit status 4");
      assert.deepEqual(instanceDirs(traced.pinRoot), [], "pins left");
    } finally {
      await traced.close();
    }
  },
});

Deno.test({
  name:
    "a controller whose standard error was closed (piped into head) still removes its pins when stopped",
  ignore: gate("closed stderr"),
  async fn() {
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("closed-stderr");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${root}src/main.ts`,
        "run",
        "--target",
        hello.exe,
        "--pin-root",
        pinRoot,
        "--no-status",
        "--log-format",
        "json",
      ],
      env: { OTEL_TRACES_EXPORTER: "none" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      // Read up to the first "attached" line, then close our end, as `head`
      // does once it has its lines.
      const reader = child.stderr.pipeThrough(new TextDecoderStream())
        .getReader();
      let seen = "";
      while (!seen.includes('"msg":"attached"')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the controller exited early:\n${seen}`);
        seen += value;
      }
      await reader.cancel();
      await child.stdout.cancel();
      assert.equal(instanceDirs(pinRoot).length, 1);
      child.kill("SIGINT");
      const status = await child.status;
      assert.equal(status.code, 0);
      assert.deepEqual(instanceDirs(pinRoot), [], "pins left");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await hello.remove();
      removePinRoot(pinRoot);
    }
  },
});

Deno.test({
  name:
    "a controller whose terminal hangs up (SIGHUP) stops as on SIGTERM: pins removed, stopped line logged",
  ignore: gate("hangup"),
  async fn() {
    const traced = await traceHello({
      tag: "hangup",
      env: { OTEL_TRACES_EXPORTER: "none" },
    });
    try {
      const c = traced.controller;
      c.child.kill("SIGHUP");
      const status = await c.wait();
      assert.equal(status.code, 0, c.dump());
      const stopping = await c.waitFor("stopping", 1000);
      assert.equal(stopping.reason, "SIGHUP");
      await c.waitFor("stopped", 1000);
      assert.deepEqual(instanceDirs(traced.pinRoot), [], "pins left");
    } finally {
      await traced.close();
    }
  },
});
