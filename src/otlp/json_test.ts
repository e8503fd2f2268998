// deno-lint-ignore-file no-explicit-any -- the tests walk free-form JSON
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type ExportTraceServiceRequest,
  ExportTraceServiceRequestSchema,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { richTraces, sampleSpans, sampleTraces } from "../../testing/traces.ts";
import {
  fromOtlpJson,
  logsFromOtlpJson,
  logsToOtlpJson,
  toOtlpJson,
} from "./json.ts";
import { ExportLogsServiceRequestSchema } from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import { OtlpBatch } from "./batch.ts";

const richRequest = (): ExportTraceServiceRequest =>
  create(ExportTraceServiceRequestSchema, {
    resourceSpans: richTraces().resourceSpans,
  });

Deno.test("toOtlpJson writes hex ids, integer enums and 64-bit integers as strings", () => {
  const json = toOtlpJson(richRequest()) as any;
  const span = json.resourceSpans[0].scopeSpans[0].spans[1];
  strictEqual(span.traceId, "01".repeat(16));
  strictEqual(span.spanId, "0100000000000101");
  strictEqual(span.parentSpanId, "0100000000000001");
  strictEqual(span.kind, 3);
  strictEqual(span.startTimeUnixNano, "1732450000123456790");
  strictEqual(span.events[0].timeUnixNano, "18446744073709551615");
  strictEqual(span.links[0].traceId, "ab".repeat(16));
  strictEqual(span.links[0].spanId, "cd".repeat(8));
  const attrs = Object.fromEntries(
    span.attributes.map((kv: any) => [kv.key, kv.value]),
  );
  deepStrictEqual(attrs.ratio, { doubleValue: 3 });
  deepStrictEqual(attrs.big, { intValue: "9007199254740993" });
  deepStrictEqual(attrs.raw, { bytesValue: "AAH+/w==" });
  const root = json.resourceSpans[0].scopeSpans[0].spans[0];
  strictEqual(root.parentSpanId, undefined);
  strictEqual(root.status.code, 1);
});

Deno.test("OTLP/JSON round-trips exactly", () => {
  const request = richRequest();
  const back = fromOtlpJson(JSON.parse(JSON.stringify(toOtlpJson(request))));
  strictEqual(equals(ExportTraceServiceRequestSchema, back, request), true);
  const attr = back.resourceSpans[0].scopeSpans[0].spans[1].attributes.find((
    kv,
  ) => kv.key === "ratio");
  strictEqual(attr?.value?.value.case, "doubleValue");
});

Deno.test("fromOtlpJson also accepts base64 ids and ignores unknown fields", () => {
  const request = create(ExportTraceServiceRequestSchema, {
    resourceSpans: sampleTraces(sampleSpans(1)).resourceSpans,
  });
  const json = toOtlpJson(request) as any;
  const span = json.resourceSpans[0].scopeSpans[0].spans[0];
  span.traceId = btoa(String.fromCharCode(...new Uint8Array(16).fill(1)));
  span.futureField = 1;
  const back = fromOtlpJson(json);
  deepStrictEqual(
    back.resourceSpans[0].scopeSpans[0].spans[0].traceId,
    new Uint8Array(16).fill(1),
  );
});

Deno.test("protobuf round-trips the rich request exactly", () => {
  const request = richRequest();
  const back = fromBinary(
    ExportTraceServiceRequestSchema,
    toBinary(ExportTraceServiceRequestSchema, request),
  );
  strictEqual(equals(ExportTraceServiceRequestSchema, back, request), true);
});

Deno.test("logs OTLP/JSON: hex ids, integer severity, exact round trip, also from a logs batch", () => {
  const logs = sampleLogs(sampleLogRecords(2));
  const request = create(ExportLogsServiceRequestSchema, {
    resourceLogs: logs.resourceLogs,
  });
  const json = logsToOtlpJson(request) as any;
  const record = json.resourceLogs[0].scopeLogs[0].logRecords[1];
  strictEqual(record.traceId, "01".repeat(16));
  strictEqual(record.spanId, "0100000000000101");
  strictEqual(record.severityNumber, 9);
  strictEqual(record.timeUnixNano, "1732450000123456790");
  const back = logsFromOtlpJson(JSON.parse(JSON.stringify(json)));
  strictEqual(equals(ExportLogsServiceRequestSchema, back, request), true);
  deepStrictEqual(toOtlpJson(OtlpBatch.fromLogsData(logs)), json);
});
