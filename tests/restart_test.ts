/**
 * Targets that come and go: the controller starts first, the target starts
 * after it, is restarted, then rebuilt in place (a new inode); every span of
 * every run arrives exactly once.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  ebpfAvailable,
  program,
  runProgram,
} from "../testing/harness.ts";
import { collectingReceiver } from "../testing/receiver.ts";

Deno.test({
  name:
    "a target started later, restarted and rebuilt in place loses and repeats no span",
  ignore: !ebpfAvailable("restart e2e"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "spanbridge-restart-" });
    const exe = `${dir}/showcase`;
    await Deno.copyFile(program("showcase"), exe);
    const receiver = await collectingReceiver();
    const pinRoot = `/sys/fs/bpf/spanbridge-test-restart-${Deno.pid}`;
    const controller = new ControllerProcess(
      ["run", "--target", exe, "--pin-root", pinRoot, "--no-status"],
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    );
    try {
      await controller.waitFor("attached");
      const expected: string[] = [];
      const runOnce = async (n: number) => {
        const file = `${dir}/record-${n}.json`;
        await runProgram(exe, ["-record", file, "-wait-attach", "10s"]);
        const record = JSON.parse(await Deno.readTextFile(file));
        expected.push(...record.spans.map((s: { spanId: string }) => s.spanId));
      };
      await runOnce(1);
      await runOnce(2);

      // Rebuild in place: a new file (new inode) renamed over the old one.
      const before = (await Deno.stat(exe)).ino;
      await Deno.copyFile(program("showcase"), `${exe}.new`);
      await Deno.rename(`${exe}.new`, exe);
      assert.notEqual((await Deno.stat(exe)).ino, before);
      await controller.waitFor(
        "attached",
        10_000,
        () => countAttached(controller) >= 2,
      );
      await runOnce(3);

      const deadline = Date.now() + 10_000;
      while (receiver.spans.length < expected.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal((await controller.stop()).code, 0, controller.dump());
      const got = receiver.spans.map((s) => s.span.spanId);
      assert.equal(new Set(got).size, got.length, "a span arrived twice");
      assert.deepEqual(
        new Set(got),
        new Set(expected),
        "spans lost or unexpected",
      );
      const stopped = await controller.waitFor("stopped");
      assert.equal(stopped.dropped, 0);
      assert.equal(stopped.recordsLost, 0);
    } finally {
      if (!controller.logs.some((l) => l.msg === "stopped")) {
        await controller.stop();
      }
      await receiver.close();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(pinRoot, { recursive: true }).catch(() => {});
    }
  },
});

function countAttached(c: ControllerProcess): number {
  return c.logs.filter((l) => l.msg === "attached").length;
}
