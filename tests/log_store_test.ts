/**
 * Log records into a real log store a person would query: testing/slog
 * (log/slog through otelslog over spanbridge's LoggerProvider) runs under
 * `spanbridge run --target`, which exports its spans to our receiver and its
 * log records over OTLP/HTTP (protobuf) straight into VictoriaLogs
 * (testing/victorialogs.ts, built from the Go module proxy). Read back with
 * LogsQL, every record the program logged is there once, field by field:
 * message, time to the nanosecond, severity number and text, attributes,
 * scope, the trace id and span id of the span it was written in, and every
 * attribute of the resource of that process's spans; and the question a
 * person asks first, "the logs of this request", is one query by trace id.
 */
import assert from "node:assert/strict";
import type { AnyValue } from "../gen/opentelemetry/proto/common/v1/common_pb.ts";
import { ebpfTest } from "../testing/ebpf.ts";
import { waitUntil } from "../testing/harness.ts";
import {
  readSlogRecord,
  slogRecordCount,
  slogScope,
  SlogSink,
  stopAndAssertBothSignals,
  type TracedSlog,
  traceSlog,
} from "../testing/slog_program.ts";
import {
  buildVictoriaLogs,
  type LogRow,
  VictoriaLogsProcess,
} from "../testing/victorialogs.ts";

ebpfTest(
  "every slog record lands in VictoriaLogs with its span's ids and its process's resource, and one LogsQL query by trace id finds a request's logs",
  async () => {
    await buildVictoriaLogs();
    const spans = 50;
    const records = slogRecordCount(spans);
    const sink = await SlogSink.start();
    const receiver = sink.receiver;
    const store = await VictoriaLogsProcess.start();
    let traced: TracedSlog | undefined;
    try {
      traced = await traceSlog({
        tag: "log-store",
        instance: "logsreal-log-store",
        env: {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: store.otlpLogsEndpoint,
          OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "http/protobuf",
        },
      });
      await traced.run(spans);
      await waitUntil(
        () => receiver.counters().spans >= spans,
        20_000,
        `${spans} spans`,
      );
      // Exported means VictoriaLogs answered 2xx for every record.
      await stopAndAssertBothSignals(traced.controller, spans, records);

      const recorded = await readSlogRecord(traced.recordPath);
      let rows: LogRow[] = [];
      await waitUntil(
        async () => (rows = await store.query("*")).length >= records,
        20_000,
        `${records} rows in VictoriaLogs`,
      ).catch((e) => {
        throw new Error(`${e.message} (have ${rows.length})\n${store.dump()}`);
      });
      assert.equal(rows.length, records, "rows in VictoriaLogs");

      const resource = sink.spanResource();
      const resourceFields = Object.fromEntries(
        resource.attributes.map((kv) => [kv.key, text(kv.value)]),
      );
      assert.ok(resourceFields["service.name"], "a service name");
      const byKey = new Map(
        rows.map((row) => [
          `${row.trace_id ?? ""}/${row.span_id ?? ""}/${row._msg}`,
          row,
        ]),
      );
      assert.equal(byKey.size, records, "each record once");
      for (const r of recorded) {
        const key = `${r.traceId}/${r.spanId}/${r.body}`;
        const row = byKey.get(key);
        assert.ok(row, `record ${key} in VictoriaLogs`);
        const { _time, _stream, _stream_id, ...fields } = row;
        assert.equal(nanos(_time), BigInt(r.timeUnixNano), `_time of ${key}`);
        assert.ok(_stream && _stream_id, `the stream of ${key}`);
        assert.deepEqual(fields, {
          _msg: r.body,
          severity_text: r.level,
          severity_number: { INFO: "9", WARN: "13" }[r.level],
          "scope.name": slogScope,
          // VictoriaLogs' word for a scope without a version (otelslog
          // gives its scope none).
          "scope.version": "unknown",
          ...(r.traceId && { trace_id: r.traceId, span_id: r.spanId }),
          ...Object.fromEntries(
            Object.entries(r.attributes).map(([k, v]) => [k, `${v}`]),
          ),
          ...resourceFields,
        }, `fields of ${key}`);
      }

      // "Show me the logs of this slow request."
      const op7 = recorded.find((r) => r.attributes.i === 7)!;
      const ofTrace = await store.query(
        `trace_id:"${op7.traceId}" | sort by (_time)`,
      );
      assert.deepEqual(
        ofTrace.map((row) => [row._msg, row.span_id, row.severity_text]),
        [
          ["working", op7.spanId, "INFO"],
          ["slow step", op7.spanId, "WARN"],
        ],
      );
    } finally {
      await traced?.close();
      await store.stop();
      await sink.close();
    }
  },
);

/** An attribute value as VictoriaLogs stores it: text (arrays as JSON). */
function text(v: AnyValue | undefined): string {
  switch (v?.value.case) {
    case "stringValue":
      return v.value.value;
    case "intValue":
    case "boolValue":
    case "doubleValue":
      return `${v.value.value}`;
    case "arrayValue":
      return JSON.stringify(
        v.value.value.values.map((e) => {
          assert.equal(e.value.case, "stringValue", "an array of strings");
          return e.value.value;
        }),
      );
    default:
      throw new Error(`Unexpected resource attribute kind ${v?.value.case}`);
  }
}

/** Nanoseconds since the epoch of an RFC 3339 time with up to 9 fraction digits. */
function nanos(time: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(time);
  assert.ok(m, `an RFC 3339 UTC time: ${time}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n +
    BigInt((m[2] ?? "").padEnd(9, "0"));
}
