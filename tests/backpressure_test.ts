/**
 * Backpressure end to end: a controller that cannot keep up (stopped with
 * SIGSTOP) leaves the backlog in the ring and, once resumed, moves it into
 * its small export queue no faster than the queue drains, so nothing that
 * fits in the ring is dropped. The backlog's processes exited meanwhile:
 * their spans keep the service name the SDK's resource gives.
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import { ebpfAvailable, waitUntil } from "../testing/harness.ts";
import { attributeMap, collectingReceiver } from "../testing/receiver.ts";
import {
  assertHelloRunsArrived,
  helloRunsArrived,
  runHello,
} from "../testing/hello.ts";
import { traceHello } from "../testing/traced.ts";

Deno.test({
  name:
    "after SIGSTOP and SIGCONT the backlog in the ring is delivered whole through a small queue, named after the exited program",
  ignore: !ebpfAvailable("backpressure: SIGSTOP/SIGCONT"),
  async fn() {
    const receiver = await collectingReceiver();
    const traced = await traceHello({
      tag: "resume",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_MAX_QUEUE_SIZE: "500",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "100",
      },
    });
    try {
      const pid = traced.controller.pid;
      Deno.kill(pid, "SIGSTOP");
      let run;
      try {
        // About 2,000 spans, four times the queue, all made and handed to
        // the ring while the controller is stopped; hello exits meanwhile.
        run = await runHello(traced.exe, {
          rate: 200,
          durationMs: 3000,
          env: { OTEL_BSP_SCHEDULE_DELAY: "100" },
        });
      } finally {
        Deno.kill(pid, "SIGCONT");
      }
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run]),
        20_000,
        "every span of the run",
      ).catch((e) => {
        throw new Error(
          `${e.message}: ${receiver.spans.length} spans arrived\n${traced.controller.dump()}`,
        );
      });
      assert.equal((await traced.controller.stop()).code, 0);
      const stopped = await traced.controller.waitFor("stopped");
      const made = assertHelloRunsArrived(receiver.spans, [run]);
      assert.ok(made > 1000, `hello made ${made} spans only`);
      assert.equal(stopped.received, made, JSON.stringify(stopped));
      assert.equal(stopped.exported, made, traced.controller.dump());
      assert.equal(stopped.dropped, 0);
      assert.equal(stopped.recordsLost, 0);
      // /proc no longer knew the process: the SDK's executable name is used.
      const services = new Set(
        receiver.spans.map((s) =>
          attributeMap(s.resource).get("service.name")?.stringValue
        ),
      );
      assert.deepEqual([...services], [basename(traced.exe)]);
    } finally {
      await traced.close();
      await receiver.close();
    }
  },
});
