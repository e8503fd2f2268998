/**
 * A ring buffer too small for the producer: with a 64 KiB ring and a
 * controller that stopped reading (SIGSTOP), the kernel drops whole batches
 * and counts them; the controller warns about them and reports them in its
 * `stopped` line; every payload the target sent is accounted for (read or
 * counted lost); and the target is not slowed down by the blocked reader.
 * Batches of the SDK are also counted lost per process and service, from
 * the SDK's batch sequence.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
} from "../testing/harness.ts";
import { TextLineStream } from "../testing/lines.ts";
import { unusedPort } from "../testing/receiver.ts";

/** Runs the emitter (raw payloads, not spans) and returns its wall time in ms. */
async function emit(exe: string, sizes: string, count: number) {
  const started = performance.now();
  const out = await new Deno.Command(exe, {
    args: ["-sizes", sizes, "-count", `${count}`, "-wait-attach", "10s"],
  }).output();
  const ms = performance.now() - started;
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return ms;
}

Deno.test({
  name:
    "a full ring loses whole batches, counted, warned and in the stopped line, without slowing the target",
  ignore: !ebpfAvailable("ring overrun"),
  async fn() {
    const emitter = await copyProgram("emitter");
    const pinRoot = testPinRoot("overrun");
    const controller = new ControllerProcess(
      [
        "run",
        "--target",
        emitter.exe,
        "--pin-root",
        pinRoot,
        "--ring-size",
        "64K",
        "--no-status",
      ],
      { OTEL_TRACES_EXPORTER: "none" },
    );
    try {
      await controller.waitFor("attached");
      // 4000 payloads of about 4 KiB: 16 MiB through a 64 KiB ring.
      const count = 2000;
      const sizes = "4096,4000";
      const reading = await emit(emitter.exe, sizes, count);
      controller.child.kill("SIGSTOP");
      const blocked = await emit(emitter.exe, sizes, count);
      controller.child.kill("SIGCONT");
      // A full ring makes the probe fail fast; it never waits for the reader.
      assert.ok(
        blocked < 2 * reading + 500,
        `the target took ${blocked} ms with the reader stopped, ${reading} ms with it reading`,
      );
      const warning = await controller.waitFor(
        "records lost in the kernel: the controller did not read the ring buffer fast enough; raise --ring-size or give the controller more CPU",
        10_000,
      );
      assert.equal(warning.level, "warn");
      assert.equal(warning.reason, "ringFull");
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      const lost = stopped.recordsLost as number;
      assert.ok(lost > 0, "no loss counted");
      // The emitter's payloads are not OTLP: each one read counts as corrupt.
      assert.equal(
        lost + (stopped.recordsCorrupt as number),
        2 * 2 * count,
        `payloads unaccounted for: ${JSON.stringify(stopped)}`,
      );
      // ... by reason in the stopped line, and warned about.
      const byReason = Object.entries(stopped)
        .filter(([key]) => /^corrupt[A-Z]/.test(key))
        .reduce((n, [, value]) => n + (value as number), 0);
      assert.equal(byReason, stopped.recordsCorrupt, JSON.stringify(stopped));
      assert.ok(
        controller.logs.some((l) =>
          l.level === "warn" && /^corrupt records dropped: /.test(l.msg)
        ),
        "no warning about corrupt records",
      );
    } finally {
      await stopIfRunning(controller);
      await emitter.remove();
      await removePinRoot(pinRoot);
    }
  },
});

/** An emitter in -spans mode: each line written ends that many spans, one batch each. */
class SpanEmitter {
  readonly #child: Deno.ChildProcess;
  readonly #in: WritableStreamDefaultWriter<Uint8Array>;
  readonly #out: ReadableStreamDefaultReader<string>;
  sent = 0;

  constructor(exe: string, service: string, goroutines = 1) {
    this.#child = new Deno.Command(exe, {
      args: ["-spans", "-goroutines", `${goroutines}`, "-wait-attach", "10s"],
      env: { OTEL_SERVICE_NAME: service },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#in = this.#child.stdin.getWriter();
    this.#out = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextLineStream()).getReader();
  }

  /** Ends `n` spans (n batches) and waits until the emitter says so. */
  async send(n: number): Promise<void> {
    await this.#in.write(new TextEncoder().encode(`${n}\n`));
    const { value } = await this.#out.read();
    assert.equal(value, `sent ${n}`);
    this.sent += n;
  }

  /** Ends the input and waits for a clean exit. */
  async close(): Promise<void> {
    await this.#in.close();
    await this.#out.cancel();
    assert.equal((await this.#child.status).code, 0, "the emitter failed");
  }
}

Deno.test({
  name:
    "a full ring's losses are counted per process and service from the SDK's batch sequence: sent minus received",
  ignore: !ebpfAvailable("ring overrun, per-process loss"),
  async fn() {
    const emitter = await copyProgram("emitter");
    const pinRoot = testPinRoot("overrun-seq");
    const telemetryPort = unusedPort();
    const controller = new ControllerProcess(
      [
        "run",
        "--target",
        emitter.exe,
        "--pin-root",
        pinRoot,
        "--ring-size",
        "64K",
        "--no-status",
        "--telemetry",
        `${telemetryPort}`,
      ],
      { OTEL_TRACES_EXPORTER: "none" },
    );
    const service = `overrun-${crypto.randomUUID().slice(0, 8)}`;
    let lossy: SpanEmitter | undefined;
    let innocent: SpanEmitter | undefined;
    try {
      await controller.waitFor("attached");
      lossy = new SpanEmitter(emitter.exe, service);
      // Its first batch goes into an empty ring: the count starts there.
      await lossy.send(1);
      controller.child.kill("SIGSTOP");
      // 3,000 batches of a few hundred bytes through a 64 KiB ring that
      // nobody reads: most are lost.
      await lossy.send(3000);
      controller.child.kill("SIGCONT");
      await controller.waitFor(
        "records lost in the kernel: the controller did not read the ring buffer fast enough; raise --ring-size or give the controller more CPU",
        10_000,
      );
      // A later batch shows the gap.
      await lossy.send(1);
      const warning = await controller.waitFor(
        "batches lost before the controller read them, by process (gaps in the SDK's batch sequence)",
        10_000,
      );
      const byProcess = warning.byProcess as { service: string }[];
      assert.equal(byProcess[0].service, service, JSON.stringify(warning));
      // Another process of the same binary, with fewer batches than the
      // ring holds: no loss.
      innocent = new SpanEmitter(emitter.exe, `${service}-ok`);
      await innocent.send(20);
      await innocent.close();
      await lossy.close();
      await new Promise((r) => setTimeout(r, 500));
      const metrics = await (await fetch(
        `http://127.0.0.1:${telemetryPort}/metrics`,
      )).text();
      const counted = new RegExp(
        `^spanbridge_batch_lost_total\\{[^}]*service_name="${service}"[^}]*\\} (\\d+)$`,
        "m",
      ).exec(metrics)?.[1];
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      const received = stopped.received as number;
      const sent = lossy.sent + innocent.sent;
      const lost = sent - received;
      assert.ok(lost > 1000, `only ${lost} of ${sent} batches lost`);
      assert.equal(stopped.batchesLost, lost, JSON.stringify(stopped));
      assert.deepEqual(
        stopped.batchesLostByService,
        { [service]: lost },
        JSON.stringify(stopped),
      );
      // The kernel's own count (ring full) agrees: every loss was seen.
      assert.equal(stopped.recordsLost, lost, JSON.stringify(stopped));
      // /metrics had it by service.name, and nothing for the other process.
      assert.equal(Number(counted), lost, metrics);
      assert.doesNotMatch(metrics, new RegExp(`service_name="${service}-ok"`));
    } finally {
      await stopIfRunning(controller);
      await emitter.remove();
      await removePinRoot(pinRoot);
    }
  },
});

Deno.test({
  name:
    "batches that goroutines hand off at once reach the ring out of order and never count as lost",
  ignore: !ebpfAvailable("batch sequence reordering"),
  async fn() {
    const emitter = await copyProgram("emitter");
    const pinRoot = testPinRoot("seq-reorder");
    const controller = new ControllerProcess(
      ["run", "--target", emitter.exe, "--pin-root", pinRoot, "--no-status"],
      { OTEL_TRACES_EXPORTER: "none" },
    );
    try {
      await controller.waitFor("attached");
      // Sixteen goroutines, one batch per span: each takes its number, then
      // traps; which reaches the ring first is up to the scheduler (measured
      // here: 0 to 50 of 50,000 batches came after a later one). 20,000
      // batches of ~300 bytes fit in the 16 MiB ring even if it is not read,
      // so any loss counted would be a false one.
      const sender = new SpanEmitter(emitter.exe, "reorder", 16);
      for (let i = 0; i < 4; i++) await sender.send(5_000);
      await sender.close();
      assert.equal((await controller.stop()).code, 0);
      const stopped = await controller.waitFor("stopped");
      const all = JSON.stringify(stopped);
      assert.equal(stopped.received, sender.sent, all);
      assert.equal(stopped.recordsLost, 0, all);
      assert.equal(stopped.batchesLost, 0, all);
      assert.equal(stopped.batchesLate, undefined, all);
    } finally {
      await stopIfRunning(controller);
      await emitter.remove();
      await removePinRoot(pinRoot);
    }
  },
});
