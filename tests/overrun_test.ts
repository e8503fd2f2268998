/**
 * A ring buffer too small for the producer: with a 64 KiB ring and a
 * controller that stopped reading (SIGSTOP), the kernel drops whole batches
 * and counts them; the controller warns about them and reports them in its
 * `stopped` line; every payload the target sent is accounted for (read or
 * counted lost); and the target is not slowed down by the blocked reader.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
} from "./harness.ts";

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
