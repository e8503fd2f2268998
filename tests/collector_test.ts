/**
 * The whole pipeline through a real third-party receiver: the showcase
 * example runs under `spanbridge run`, which exports to an OpenTelemetry
 * Collector (built from the official Go modules by testing/collector: the
 * otlpreceiver on loopback, no processor, the otlphttpexporter), which
 * forwards to our collecting receiver. Every span the Go program recorded
 * must come out of the Collector exactly as it went in: the same span-by-span
 * comparison as tests/showcase_test.ts (testing/assert_spans.ts), for
 * http/protobuf, http/json and grpc into the Collector (the Collector
 * forwards over HTTP in the encoding it got, protobuf from gRPC).
 *
 * Nothing is exempted from the comparison. What the Collector may change and
 * the comparison tolerates by construction: it regroups spans into requests of
 * its own (its exporter's sending queue batches them) and may reorder them, so
 * spans are matched by span id, never by position or request; resource and
 * scope are compared per span, whichever request carried it. Every span field
 * the comparison checks (ids, parents, trace state, flags, kind, nanosecond
 * timestamps, typed attributes, events, links, status, dropped counts, scope,
 * resource) passes the Collector's pdata model unchanged.
 *
 * The Collector is built once per pinned release into
 * build/otelcol/<version>/ (testing/collector.ts); the first build compiles
 * it, minutes on two cores, from the module cache or the Go module proxy.
 */
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
  waitForSpans,
} from "../testing/harness.ts";
import {
  buildCollector,
  type CollectorProcess,
  collectorProtocols,
  startForwardingCollector,
} from "../testing/collector.ts";
import { collectingReceiver } from "../testing/receiver.ts";
import {
  assertSpans,
  recordShowcase,
  stopAndAssertNothingLost,
} from "../testing/assert_spans.ts";

for (
  const [protocol, encoding] of collectorProtocols
) {
  Deno.test({
    name:
      `showcase spans pass the OpenTelemetry Collector intact over ${protocol}`,
    ignore: !ebpfAvailable(`collector e2e (${protocol})`),
    async fn() {
      await buildCollector();
      const showcase = await copyProgram("showcase");
      const recordFile = await Deno.makeTempFile({ suffix: ".json" });
      const pinRoot = testPinRoot(`collector-${protocol.replace("http/", "")}`);
      const receiver = await collectingReceiver();
      let collector: CollectorProcess | undefined;
      let controller: ControllerProcess | undefined;
      try {
        collector = await startForwardingCollector(
          protocol,
          encoding,
          receiver.endpoint,
        );
        controller = new ControllerProcess(
          [
            "run",
            "--target",
            showcase.exe,
            "--pin-root",
            pinRoot,
            "--no-status",
          ],
          {
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          },
        );
        await controller.waitFor("attached");
        const record = await recordShowcase(showcase.exe, recordFile);
        await waitForSpans(
          receiver,
          record.spans.length,
          20_000,
          `${record.spans.length} spans through the Collector`,
          { controller, Collector: collector },
        );

        await stopAndAssertNothingLost(controller, record.spans.length);

        await collector.stopAndAssertQuiet();

        assertSpans(
          record,
          receiver.spans,
          encoding === "json" ? "json" : "protobuf",
        );
      } finally {
        if (controller) await stopIfRunning(controller);
        await collector?.stop();
        await receiver.close();
        await removePinRoot(pinRoot);
        await showcase.remove();
        await Deno.remove(recordFile);
      }
    },
  });
}
