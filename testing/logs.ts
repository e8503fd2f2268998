/**
 * Sample OTLP logs for the unit tests, beside the traces of traces.ts.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import {
  type LogRecord,
  LogRecordSchema,
  type LogsData,
  LogsDataSchema,
  SeverityNumber,
} from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { attr, id } from "./traces.ts";

/**
 * `count` log records written in the spans of `sampleSpans(…, seed)`: record
 * i in span i (trace id filled with `seed`), INFO, body "line i"; with
 * `inSpan` false they carry no trace context.
 */
export function sampleLogRecords(
  count: number,
  seed = 1,
  inSpan = true,
): LogRecord[] {
  const time = 1732450000123456789n;
  return Array.from({ length: count }, (_, i) =>
    create(LogRecordSchema, {
      timeUnixNano: time + BigInt(i),
      observedTimeUnixNano: time + BigInt(i) + 10n,
      severityNumber: SeverityNumber.INFO,
      severityText: "INFO",
      body: { value: { case: "stringValue", value: `line ${i}` } },
      attributes: [attr("user", `u${i}`)],
      ...(inSpan && {
        traceId: id(16, seed),
        spanId: Uint8Array.of(
          seed,
          0,
          0,
          0,
          (i >> 16) & 255,
          (i >> 8) & 255,
          i & 255,
          1,
        ),
        flags: 1,
      }),
    }));
}

/** LogsData with one resource ("demo" by default) and one scope holding `records`. */
export function sampleLogs(
  records: LogRecord[],
  serviceName = "demo",
): LogsData {
  return create(LogsDataSchema, {
    resourceLogs: [{
      resource: { attributes: [attr("service.name", serviceName)] },
      scopeLogs: [{
        scope: { name: "spanbridge/sdk", version: "0.1.0" },
        logRecords: records,
      }],
    }],
  });
}
