/**
 * Reads a LogsData payload into a logs {@linkcode SpanBatch}, as _scan.ts
 * reads TracesData: the whole message validated on the wire, each record's
 * trace context checked (a trace id empty or 16 bytes, a span id empty or 8:
 * a record written outside any span has none), only the resources decoded,
 * and each ScopeLogs kept as the bytes it came in.
 *
 * @module
 */

import { fromBinary, mergeFromBinary } from "@bufbuild/protobuf";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  type LogRecord,
  LogRecordSchema,
  LogsDataSchema,
  ResourceLogsSchema,
  ScopeLogsSchema,
} from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import {
  type EncodedResource,
  type EncodedResourceSpans,
  encodeResource,
  SpanBatch,
} from "../otlp/mod.ts";
import { Lenient, rulesOf, WireWalker } from "./_wire.ts";
import { ResourceMemo, type ScanProblem } from "./_scan.ts";

const logsDataRules = rulesOf(LogsDataSchema);
const resourceLogsRules = rulesOf(ResourceLogsSchema);
const scopeLogsRules = rulesOf(ScopeLogsSchema);
const logRecordRules = rulesOf(LogRecordSchema);
const resourceRules = rulesOf(ResourceSchema);

/**
 * Reads `payload` (which the batch will share, so it must not change) into a
 * logs batch; resources are interned through `resources`.
 */
export function scanLogs(
  payload: Uint8Array,
  resources: ResourceMemo = new ResourceMemo(),
): SpanBatch | ScanProblem {
  try {
    return new LogScan(payload, resources).logs();
  } catch (e) {
    if (e instanceof Lenient) return decodeFully(payload);
    return notLogs(e);
  }
}

function notLogs(e: unknown): ScanProblem {
  return {
    reason: "bad_protobuf",
    detail: `payload is not a LogsData message: ${(e as Error).message}`,
  };
}

/** Why a record's trace context is bad, or undefined when it is good. */
function idProblem(
  traceId: number,
  spanId: number,
): ScanProblem["reason"] | undefined {
  if (traceId !== 0 && traceId !== 16) return "bad_trace_id";
  if (spanId !== 0 && spanId !== 8) return "bad_span_id";
  return undefined;
}

function describe(record: LogRecord, reason: ScanProblem["reason"]): string {
  return reason === "bad_trace_id"
    ? `log record of severity "${record.severityText}" has a ${record.traceId.length}-byte trace id`
    : `log record of severity "${record.severityText}" has a ${record.spanId.length}-byte span id`;
}

class LogScan {
  readonly #walker: WireWalker;
  readonly #resources: ResourceMemo;
  /** The first record with a bad id, reported once the structure is known valid. */
  #bad: { reason: ScanProblem["reason"]; record: Uint8Array } | undefined;

  constructor(payload: Uint8Array, resources: ResourceMemo) {
    this.#walker = new WireWalker(payload);
    this.#resources = resources;
  }

  logs(): SpanBatch | ScanProblem {
    const walker = this.#walker;
    const groups: EncodedResourceSpans[] = [];
    const end = walker.length;
    while (walker.pos < end) {
      const tag = walker.tag();
      if (tag >>> 3 === 1) {
        const stop = walker.enter(tag & 7, end, "LogsData.resource_logs");
        groups.push(this.#resourceLogs(stop));
      } else {
        walker.field(logsDataRules, tag >>> 3, tag & 7, end, 1);
      }
    }
    if (this.#bad) {
      const record = fromBinary(LogRecordSchema, this.#bad.record);
      return {
        reason: this.#bad.reason,
        detail: describe(record, this.#bad.reason),
      };
    }
    return new SpanBatch(groups, undefined, undefined, "logs");
  }

  #resourceLogs(end: number): EncodedResourceSpans {
    const walker = this.#walker;
    let resource: EncodedResource | undefined;
    let schemaUrl = "";
    const scopeLogs: Uint8Array[] = [];
    let records = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      if (fieldNo === 1) {
        const stop = walker.enter(wireType, end, "ResourceLogs.resource");
        const body = walker.pos;
        walker.message(resourceRules, stop, 3);
        // A repeated message field merges, as in fromBinary.
        resource = resource
          ? encodeResource(mergeFromBinary(
            ResourceSchema,
            fromBinary(ResourceSchema, resource.bytes),
            walker.bytes(body, stop),
          ))
          : this.#resources.intern(walker.bytes(body, stop));
      } else if (fieldNo === 2) {
        const stop = walker.enter(wireType, end, "ResourceLogs.scope_logs");
        const body = walker.pos;
        records += this.#scopeLogs(stop);
        scopeLogs.push(walker.bytes(body, stop));
      } else if (fieldNo === 3) {
        schemaUrl = walker.string(wireType, end, "ResourceLogs.schema_url");
      } else {
        walker.field(resourceLogsRules, fieldNo, wireType, end, 2);
      }
    }
    return { resource, schemaUrl, scopeSpans: scopeLogs, spans: records };
  }

  #scopeLogs(end: number): number {
    const walker = this.#walker;
    let records = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      if (tag >>> 3 === 2) {
        const stop = walker.enter(tag & 7, end, "ScopeLogs.log_records");
        this.#logRecord(stop);
        records++;
      } else {
        walker.field(scopeLogsRules, tag >>> 3, tag & 7, end, 3);
      }
    }
    return records;
  }

  #logRecord(end: number): void {
    const walker = this.#walker;
    const start = walker.pos;
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
    const reason = idProblem(traceId, spanId);
    if (reason && !this.#bad) {
      this.#bad = { reason, record: walker.bytes(start, end) };
    }
  }
}

/**
 * The full decoder, for payloads valid only under fromBinary's lenient
 * reading: their ScopeLogs are re-encoded, so what leaves is canonical.
 */
function decodeFully(payload: Uint8Array): SpanBatch | ScanProblem {
  let logs;
  try {
    logs = fromBinary(LogsDataSchema, payload);
  } catch (e) {
    return notLogs(e);
  }
  for (const rl of logs.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const record of sl.logRecords) {
        const reason = idProblem(record.traceId.length, record.spanId.length);
        if (reason) return { reason, detail: describe(record, reason) };
      }
    }
  }
  return SpanBatch.fromLogsData(logs);
}
