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
import { create } from "@bufbuild/protobuf";
import {
  type TracesData,
  TracesDataSchema,
} from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import type { LogsData } from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { hex } from "../src/otlp/mod.ts";
import { startReceiver } from "../src/receive/mod.ts";
import { ebpfAvailable } from "../testing/ebpf.ts";
import {
  ControllerProcess,
  removePinRoot,
  runProgram,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import { buildCollector, CollectorProcess } from "../testing/collector.ts";
import { unusedPort } from "../testing/receiver.ts";
import {
  assertSlogRecords,
  buildSlogProgram,
  readSlogRecord,
  slogRecordCount,
  stopAndAssertBothSignals,
} from "../testing/slog_program.ts";

for (
  const [protocol, encoding] of [
    ["http/protobuf", "proto"],
    ["http/json", "json"],
    ["grpc", "proto"],
  ] as const
) {
  Deno.test({
    name:
      `slog records pass the OpenTelemetry Collector record by record over ${protocol}, each with its span's ids and its process's resource`,
    ignore: !ebpfAvailable(`collector logs e2e (${protocol})`),
    async fn() {
      await buildCollector();
      const spans = 100;
      const records = slogRecordCount(spans);
      const traces: TracesData[] = [];
      const logs: LogsData[] = [];
      const receiver = await startReceiver({
        port: 0,
        onTraces: (t) => traces.push(t),
        onLogs: (l) => logs.push(l),
      });
      const dir = await Deno.makeTempDir({ prefix: "spanbridge-col-logs-" });
      const tag = protocol.replace("http/", "");
      const pinRoot = testPinRoot(`collector-logs-${tag}`);
      let collector: CollectorProcess | undefined;
      let controller: ControllerProcess | undefined;
      try {
        const exe = await buildSlogProgram(`${dir}/slog`);
        collector = protocol === "grpc"
          ? grpcForwarding(unusedPort(), `http://${receiver.addr}`)
          : CollectorProcess.forwarding(
            unusedPort(),
            `http://${receiver.addr}`,
            encoding,
          );
        await collector.ready(30_000);
        controller = new ControllerProcess([
          "run",
          "--target",
          exe,
          "--pin-root",
          pinRoot,
          "--instance",
          `logsreal-collector-logs-${tag}`,
          "--no-status",
        ], {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        });
        await controller.waitFor("attached");
        await runProgram(exe, [
          "-n",
          `${spans}`,
          "-record",
          `${dir}/record.json`,
        ]);
        const c = controller, col = collector;
        await waitUntil(
          () =>
            receiver.counters().spans >= spans &&
            receiver.counters().logRecords >= records,
          20_000,
          `${spans} spans and ${records} log records through the Collector`,
        ).catch((e) => {
          throw new Error(
            `${e.message}: have ${receiver.counters().spans} spans, ${receiver.counters().logRecords} log records\ncontroller:\n${c.dump()}\nCollector:\n${col.dump()}`,
          );
        });
        await stopAndAssertBothSignals(controller, spans, records);
        // Whatever the Collector still had queued is out once it stopped, so
        // a late duplicate could not slip past the comparison.
        assert.equal((await collector.stop()).code, 0, collector.dump());
        assert.ok(
          !collector.log.some((l) => /\t(warn|error)\t/.test(l)),
          `the Collector logged a warning or error:\n${collector.dump()}`,
        );

        const allTraces = create(TracesDataSchema, {
          resourceSpans: traces.flatMap((t) => t.resourceSpans),
        });
        const resource = allTraces.resourceSpans[0].resource!;
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
        const recorded = await readSlogRecord(`${dir}/record.json`);
        assert.equal(recorded.length, records);
        for (const r of recorded.filter((r) => r.spanId)) {
          assert.ok(
            spanIds.has(`${r.traceId}/${r.spanId}`),
            `the span of log record "${r.body}" arrived`,
          );
        }
        assertSlogRecords(recorded, logs, { resource });
      } finally {
        if (controller) await stopIfRunning(controller);
        await collector?.stop();
        await receiver.close();
        await removePinRoot(pinRoot);
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/**
 * The Collector with an OTLP receiver for gRPC only, on 127.0.0.1:`port`,
 * forwarding spans and logs to `forward` over OTLP/HTTP (protobuf).
 */
function grpcForwarding(port: number, forward: string): CollectorProcess {
  const listen = `127.0.0.1:${port}`;
  return new CollectorProcess(listen, [
    `--config=yaml:receivers::otlp::protocols::grpc::endpoint: ${listen}`,
    `--config=yaml:exporters::otlp_http::endpoint: ${forward}`,
    "--config=yaml:service::telemetry::metrics::level: none",
    "--config=yaml:service::pipelines::traces::receivers: [otlp]",
    "--config=yaml:service::pipelines::traces::exporters: [otlp_http]",
    "--config=yaml:service::pipelines::logs::receivers: [otlp]",
    "--config=yaml:service::pipelines::logs::exporters: [otlp_http]",
  ], {});
}
