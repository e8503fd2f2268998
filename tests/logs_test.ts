/**
 * Log records end to end: a Go program writing through log/slog and the
 * otelslog bridge over spanbridge's LoggerProvider (testing/slog), traced by
 * `spanbridge run --target`, delivers every log record to /v1/logs with the
 * trace and span id of the span it was written in and the resource its
 * spans get, and the `stopped` line balances for spans and log records.
 * An unreachable log endpoint turns the agent unready while its spans flow,
 * and /readyz and /metrics say which exporter fails.
 */
import assert from "node:assert/strict";
import { formatAnyValue, hex, stringAttribute } from "../src/otlp/mod.ts";
import { formatTraces } from "../src/receive/mod.ts";
import { create } from "@bufbuild/protobuf";
import { LogsDataSchema } from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { ebpfTest } from "../testing/ebpf.ts";
import { waitUntil } from "../testing/harness.ts";
import { unusedPort } from "../testing/receiver.ts";
import {
  runAndDeliver,
  slogRecordCount,
  SlogSink,
  type TracedSlog,
  traceSlog,
} from "../testing/slog_program.ts";

ebpfTest(
  "every log record written through slog arrives at /v1/logs with its span's ids and its process's resource; the stopped line balances per signal",
  async () => {
    const spans = 200;
    const sink = await SlogSink.start();
    const receiver = sink.receiver;
    let traced: TracedSlog | undefined;
    try {
      traced = await traceSlog({
        tag: "logs",
        instance: "ctllogs-logs-e2e",
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.addr}`,
          OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "http/json",
        },
      });
      await runAndDeliver(traced, sink, spans);

      // Each record in the span it was written in.
      const spanIds = new Map<string, string>();
      const allTraces = sink.allTraces();
      for (const rs of allTraces.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) {
            spanIds.set(`${hex(span.traceId)}/${hex(span.spanId)}`, span.name);
          }
        }
      }
      const allLogs = create(LogsDataSchema, {
        resourceLogs: sink.logs.flatMap((l) => l.resourceLogs),
      });
      const spanResource = allTraces.resourceSpans[0].resource!;
      let inSpans = 0;
      for (const rl of allLogs.resourceLogs) {
        assert.deepEqual(rl.resource, spanResource, "logs and spans resources");
        for (const sl of rl.scopeLogs) {
          assert.equal(sl.scope?.name, "spanbridge/testing/slog");
          for (const record of sl.logRecords) {
            const body = formatAnyValue(record.body);
            if (body === "starting") {
              assert.equal(record.traceId.length, 0);
              continue;
            }
            const i = record.attributes.find((kv) => kv.key === "i")?.value
              ?.value.value;
            const name = spanIds.get(
              `${hex(record.traceId)}/${hex(record.spanId)}`,
            );
            assert.equal(name, `op ${i}`, `record "${body}" of i=${i}`);
            assert.equal(record.flags & 1, 1, "sampled");
            inSpans++;
          }
        }
      }
      assert.equal(inSpans, 2 * spans);
      assert.ok(
        stringAttribute(spanResource.attributes, "service.name"),
        "a service name",
      );

      // `spanbridge receive` prints them under their spans.
      const service = stringAttribute(spanResource.attributes, "service.name");
      const lines = formatTraces(allTraces, {}, allLogs).split("\n");
      const op7 = lines.findIndex((l) => l.startsWith(`└─ op 7  [${service}]`));
      assert.deepEqual(lines.slice(op7 + 1, op7 + 3), [
        `   · INFO  working  [${service}]  i=7`,
        `   · WARN  slow step  [${service}]  i=7  step=db`,
      ]);
      const outside = lines.indexOf(
        `logs [${service}]  1 log record outside any span`,
      );
      assert.equal(
        lines[outside + 1],
        `· INFO  starting  [${service}]  spans=${spans}`,
      );
    } finally {
      await traced?.close();
      await sink.close();
    }
  },
);

ebpfTest(
  "a log endpoint that cannot be reached turns /readyz unready while spans flow, naming the logs export, and its calls are timed under the log exporter's component type",
  async () => {
    const sink = await SlogSink.start();
    const telemetry = `127.0.0.1:${unusedPort()}`;
    let traced: TracedSlog | undefined;
    const get = async (path: string) => {
      const res = await fetch(`http://${telemetry}${path}`);
      return { status: res.status, body: await res.text() };
    };
    try {
      traced = await traceSlog({
        tag: "logs-unready",
        instance: "ctllogs-logs-unready",
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${sink.receiver.addr}`,
          // Nothing listens there.
          OTEL_EXPORTER_OTLP_LOGS_ENDPOINT:
            `http://127.0.0.1:${unusedPort()}/v1/logs`,
          OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: "1000",
          SPANBRIDGE_TELEMETRY: telemetry,
          SPANBRIDGE_TELEMETRY_EXPORT_FAILING: "1",
        },
      });
      const spans = 20;
      await traced.run(spans);
      await waitUntil(
        () => sink.receiver.counters().spans >= spans,
        20_000,
        `${spans} spans`,
      );
      await waitUntil(
        async () => (await get("/readyz")).status === 503,
        20_000,
        "the agent to turn unready",
      );
      const ready = (await get("/readyz")).body;
      assert.match(
        ready,
        /^FAIL export: logs failing for [0-9.]+ s \(not ready after 1 s\)$/m,
      );
      assert.doesNotMatch(ready, /traces failing/, "spans were delivered");
      const metrics = (await get("/metrics")).body;
      for (
        const labels of [
          'otel_component_type="otlp_http_span_exporter"',
          'otel_component_type="otlp_http_log_exporter",error_type="retryable"',
        ]
      ) {
        assert.match(
          metrics,
          new RegExp(
            `^otel_sdk_exporter_operation_duration_count\\{${labels},`,
            "m",
          ),
          metrics,
        );
      }
      // A second signal cuts the flush short: the log records still queued
      // are counted as dropped, none exported, none unaccounted for.
      const c = traced.controller;
      c.child.kill("SIGTERM");
      await c.waitFor("stopping");
      c.child.kill("SIGTERM");
      const stopped = await c.waitFor("stopped");
      const logs = stopped.logs as Record<string, number>;
      const records = slogRecordCount(spans);
      assert.deepEqual(
        [logs.received, logs.exported, logs.dropped],
        [records, 0, records],
        `log records received, exported, dropped: ${JSON.stringify(stopped)}`,
      );
    } finally {
      await traced?.close();
      await sink.close();
    }
  },
);
