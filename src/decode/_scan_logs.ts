/**
 * The scan of a LogsData payload (see _scan.ts): a log record's trace id
 * must be empty or 16 bytes and its span id empty or 8 (a record written
 * outside any span has none).
 *
 * @module
 */

import { fromBinary } from "@bufbuild/protobuf";
import {
  type LogRecord,
  LogRecordSchema,
  LogsDataSchema,
  ResourceLogsSchema,
  ScopeLogsSchema,
} from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { OtlpBatch } from "../otlp/mod.ts";
import { rulesOf } from "./_wire.ts";
import { type IdReason, SignalScanner } from "./_scan.ts";

/** Why a record's trace context (given by its lengths) is bad, if it is. */
function idProblem(traceId: number, spanId: number): IdReason | undefined {
  if (traceId !== 0 && traceId !== 16) return "bad_trace_id";
  if (spanId !== 0 && spanId !== 8) return "bad_span_id";
  return undefined;
}

function describe(record: LogRecord, reason: IdReason): string {
  return reason === "bad_trace_id"
    ? `log record of severity "${record.severityText}" has a ${record.traceId.length}-byte trace id`
    : `log record of severity "${record.severityText}" has a ${record.spanId.length}-byte span id`;
}

const logRecordRules = rulesOf(LogRecordSchema);

/** The scanner of LogsData payloads into batches of log records. */
export const logScanner = new SignalScanner({
  signal: "logs",
  data: LogsDataSchema,
  group: ResourceLogsSchema,
  scope: ScopeLogsSchema,
  item(walker, end) {
    // Singular fields: the last occurrence counts, as in fromBinary.
    let traceId = 0;
    let spanId = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      if (fieldNo === 9 || fieldNo === 10) {
        const stop = walker.enter(
          tag & 7,
          end,
          fieldNo === 9 ? "LogRecord.trace_id" : "LogRecord.span_id",
        );
        if (fieldNo === 9) traceId = stop - walker.pos;
        else spanId = stop - walker.pos;
        walker.pos = stop;
      } else {
        walker.field(logRecordRules, fieldNo, tag & 7, end, 4);
      }
    }
    return idProblem(traceId, spanId);
  },
  describe: (record, reason) =>
    describe(fromBinary(LogRecordSchema, record), reason),
  firstBadItem(data) {
    for (const rl of data.resourceLogs) {
      for (const sl of rl.scopeLogs) {
        for (const record of sl.logRecords) {
          const reason = idProblem(record.traceId.length, record.spanId.length);
          if (reason) return { reason, detail: describe(record, reason) };
        }
      }
    }
    return undefined;
  },
  batchOf: (data) => OtlpBatch.fromLogsData(data),
});
