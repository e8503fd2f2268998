/**
 * A traced process that executes a program in place keeps its pid and its
 * start time, but not its command line: its spans from then on must carry
 * the new one. testing/reexec makes spans, executes itself again with
 * other arguments, and makes more.
 */
import assert from "node:assert/strict";
import {
  ebpfAvailable,
  removePinRoot,
  runProgram,
  stopIfRunning,
  testPinRoot,
  traceTarget,
  waitForSpans,
} from "../testing/harness.ts";
import { staticProgram } from "../testing/containers.ts";
import { stopAndAssertNothingLost } from "../testing/assert_spans.ts";
import { attributeMap, collectingReceiver } from "../testing/receiver.ts";

Deno.test({
  name:
    "a traced process that executes a program in place is described anew: its later spans carry the new command line under the same pid",
  ignore: !ebpfAvailable("re-exec e2e"),
  async fn() {
    const exe = await staticProgram("reexec");
    const receiver = await collectingReceiver();
    const pinRoot = testPinRoot("reexec");
    const controller = traceTarget(exe, pinRoot, `reexec-${Deno.pid}`, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    });
    try {
      await controller.waitFor("attached");
      // Each generation runs on a moment beside its spans, as a service
      // would: the first is read from /proc while it runs, and the exec
      // (an exec event, read apart from the spans) is heard before the
      // second's spans come.
      await runProgram(exe, ["-n", "5", "-settle", "500ms"]);
      await waitForSpans(receiver, 10, 20_000, "10 spans", { controller });
      const args = (gen: string) => {
        const spans = receiver.spans.filter((r) => r.span.name === gen);
        assert.equal(spans.length, 5, `spans of ${gen}`);
        const seen = new Set(spans.map((r) => {
          const attrs = attributeMap(r.resource);
          return JSON.stringify({
            pid: attrs.get("process.pid")?.intValue,
            args: attrs.get("process.command_args")?.arrayValue?.values.map((
              v: { stringValue: string },
            ) => v.stringValue),
          });
        }));
        assert.equal(seen.size, 1, `one description of ${gen}: ${[...seen]}`);
        return JSON.parse([...seen][0]);
      };
      const first = args("gen 1"), second = args("gen 2");
      assert.deepEqual(first.args, [exe, "-n", "5", "-settle", "500ms"]);
      assert.deepEqual(second.args, [
        exe,
        "-n",
        "5",
        "-gen",
        "2",
        "-settle",
        "500ms",
      ]);
      assert.equal(second.pid, first.pid, "the same process");
      await stopAndAssertNothingLost(controller, 10);
    } finally {
      await stopIfRunning(controller);
      await receiver.close();
      removePinRoot(pinRoot);
    }
  },
});
