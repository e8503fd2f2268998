/**
 * The whole pipeline on the real kernel: the showcase example (every SDK
 * feature) runs under `spanbridge run`, and every span it recorded must arrive
 * at a real OTLP/HTTP receiver on loopback exactly as the Go program made it:
 * names, ids, parents, kinds, timestamps to the nanosecond, typed attributes,
 * events, links, status, dropped counts, scope and resource; non-sampled
 * spans must not arrive; the controller must report nothing dropped.
 */
import {
  ControllerProcess,
  ebpfAvailable,
  program,
} from "../testing/harness.ts";
import { collectingReceiver } from "../testing/receiver.ts";
import {
  assertSpans,
  recordShowcase,
  stopAndAssertNothingLost,
} from "../testing/assert_spans.ts";

for (const protocol of ["http/protobuf", "http/json"] as const) {
  Deno.test({
    name: `showcase spans arrive span by span over ${protocol}`,
    ignore: !ebpfAvailable(`showcase e2e (${protocol})`),
    async fn() {
      const receiver = await collectingReceiver();
      const pinRoot = `/sys/fs/bpf/spanbridge-test-e2e-${Deno.pid}-${
        protocol.slice(5)
      }`;
      const showcase = program("showcase");
      const controller = new ControllerProcess(
        ["run", "--target", showcase, "--pin-root", pinRoot, "--no-status"],
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        },
      );
      const recordFile = await Deno.makeTempFile({ suffix: ".json" });
      try {
        await controller.waitFor("attached");
        const record = await recordShowcase(showcase, recordFile);
        await waitUntil(
          () => receiver.spans.length >= record.spans.length,
          10_000,
        );
        await stopAndAssertNothingLost(controller, record.spans.length);

        assertSpans(
          record,
          receiver.spans,
          protocol === "http/json" ? "json" : "protobuf",
        );
      } finally {
        if (!controller.logs.some((l) => l.msg === "stopped")) {
          await controller.stop();
        }
        await receiver.close();
        await Deno.remove(recordFile);
        await Deno.remove(pinRoot, { recursive: true }).catch(() => {});
      }
    },
  });
}

async function waitUntil(
  test: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
}
