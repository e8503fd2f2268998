/**
 * Log records through a real OpenTelemetry Collector: testing/slog (log/slog
 * through the otelslog bridge over spanbridge's LoggerProvider) runs under
 * `spanbridge run --target`, which exports spans and log records to the
 * test Collector (testing/collector: the otlpreceiver, no processor, the
 * otlphttpexporter, with a traces and a logs pipeline), which forwards them
 * to our receiver. Every record the program logged must come out of the
 * Collector as it went in, record by record (testing/slog_program.ts): body,
 * severity number and text, typed attributes, timestamps, the trace id, span
 * id and sampled flag of the span it was written in (a span that arrived
 * too), and, as its resource, exactly the resource of that process's spans.
 * The `stopped` line balances for both signals.
 *
 * Records are matched by trace id, span id and body, never by position or
 * request: the Collector regroups them into requests of its own.
 */
import assert from "node:assert/strict";
import { hex } from "../src/otlp/mod.ts";
import { ebpfAvailable } from "../testing/ebpf.ts";
import {
  buildCollector,
  type CollectorProcess,
  collectorProtocols,
  startForwardingCollector,
} from "../testing/collector.ts";
import {
  runAndDeliver,
  slogRecordCount,
  SlogSink,
  type TracedSlog,
  traceSlog,
} from "../testing/slog_program.ts";

for (
  const [protocol, encoding] of collectorProtocols
) {
  Deno.test({
    name:
      `slog records pass the OpenTelemetry Collector record by record over ${protocol}, each with its span's ids and its process's resource`,
    ignore: !ebpfAvailable(`collector logs e2e (${protocol})`),
    async fn() {
      await buildCollector();
      const spans = 100;
      const records = slogRecordCount(spans);
      const sink = await SlogSink.start();
      const tag = protocol.replace("http/", "");
      let collector: CollectorProcess | undefined;
      let traced: TracedSlog | undefined;
      try {
        collector = await startForwardingCollector(
          protocol,
          encoding,
          `http://${sink.receiver.addr}`,
        );
        traced = await traceSlog({
          tag: `collector-logs-${tag}`,
          instance: `logsreal-collector-logs-${tag}`,
          env: {
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          },
        });
        await runAndDeliver(traced, sink, spans, " through the Collector", {
          Collector: collector,
        });
        await collector.stopAndAssertQuiet();

        const { recorded, resource } = await sink.assertRecords(
          traced.recordPath,
          records,
        );
        const allTraces = sink.allTraces();
        for (const rs of allTraces.resourceSpans) {
          assert.deepEqual(rs.resource, resource, "one process, one resource");
        }
        const spanIds = new Set(
          allTraces.resourceSpans.flatMap((rs) =>
            rs.scopeSpans.flatMap((ss) =>
              ss.spans.map((s) => `${hex(s.traceId)}/${hex(s.spanId)}`)
            )
          ),
        );
        for (const r of recorded.filter((r) => r.spanId)) {
          assert.ok(
            spanIds.has(`${r.traceId}/${r.spanId}`),
            `the span of log record "${r.body}" arrived`,
          );
        }
      } finally {
        await traced?.close();
        await collector?.stop();
        await sink.close();
      }
    },
  });
}
