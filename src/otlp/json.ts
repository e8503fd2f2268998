/**
 * OTLP/JSON for trace and logs requests. It is protobuf's canonical JSON mapping with
 * the OTLP exceptions: trace and span ids are hex strings rather than base64,
 * and enums are written as integers. 64-bit integers stay decimal strings, so
 * timestamps such as 1732450000123456789 survive exactly.
 *
 * @module
 */

import {
  create,
  fromJson,
  type JsonObject,
  type JsonValue,
  toJson,
} from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import {
  type ExportTraceServiceRequest,
  ExportTraceServiceRequestSchema,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
} from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import type { Span } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { SpanBatch } from "./batch.ts";
import { hex } from "./attributes.ts";

type Json = Record<string, JsonValue>;
const idFields = ["traceId", "spanId", "parentSpanId"] as const;

/**
 * Converts a request to its OTLP/JSON object (JSON.stringify it to send). A
 * {@linkcode SpanBatch} is decoded span by span first, which costs several
 * times what its protobuf encoding does; a logs batch becomes an
 * ExportLogsServiceRequest ({@linkcode logsToOtlpJson}).
 */
export function toOtlpJson(
  batch: SpanBatch | ExportTraceServiceRequest,
): JsonObject {
  if (batch instanceof SpanBatch && batch.signal === "logs") {
    return logsToOtlpJson(batch);
  }
  const request = batch instanceof SpanBatch
    ? create(ExportTraceServiceRequestSchema, {
      resourceSpans: batch.toTracesData().resourceSpans,
    })
    : batch;
  const json = toJson(ExportTraceServiceRequestSchema, request, {
    enumAsInteger: true,
  }) as Json;
  const jsonResources = (json.resourceSpans ?? []) as Json[];
  request.resourceSpans.forEach((rs, i) => {
    const jsonScopes = (jsonResources[i].scopeSpans ?? []) as Json[];
    rs.scopeSpans.forEach((ss, j) => {
      const jsonSpans = (jsonScopes[j].spans ?? []) as Json[];
      ss.spans.forEach((span, k) => hexIds(span, jsonSpans[k]));
    });
  });
  return json;
}

function hexIds(span: Span, json: Json): void {
  for (const field of idFields) {
    if (span[field].length > 0) json[field] = hex(span[field]);
  }
  const jsonLinks = (json.links ?? []) as Json[];
  span.links.forEach((link, i) => {
    if (link.traceId.length > 0) jsonLinks[i].traceId = hex(link.traceId);
    if (link.spanId.length > 0) jsonLinks[i].spanId = hex(link.spanId);
  });
}

/**
 * Parses an OTLP/JSON request. Ids are taken as hex when they have the hex
 * length of a trace id (32) or span id (16) and as base64 otherwise, so both
 * OTLP/JSON and plain protobuf JSON are accepted. Unknown fields are ignored,
 * as OTLP asks of receivers. Throws on invalid input.
 */
export function fromOtlpJson(value: unknown): ExportTraceServiceRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("OTLP/JSON request must be a JSON object");
  }
  const json = structuredClone(value) as Json;
  for (const rs of asArray(json.resourceSpans)) {
    for (const ss of asArray(rs.scopeSpans)) {
      for (const span of asArray(ss.spans)) {
        for (const field of idFields) {
          unhex(span, field, field === "traceId" ? 16 : 8);
        }
        for (const link of asArray(span.links)) {
          unhex(link, "traceId", 16);
          unhex(link, "spanId", 8);
        }
      }
    }
  }
  return fromJson(ExportTraceServiceRequestSchema, json, {
    ignoreUnknownFields: true,
  });
}

/**
 * Converts a logs request (or a logs {@linkcode SpanBatch}) to its OTLP/JSON
 * object: trace and span ids in hex, enums as integers.
 */
export function logsToOtlpJson(
  batch: SpanBatch | ExportLogsServiceRequest,
): JsonObject {
  const request = batch instanceof SpanBatch
    ? create(ExportLogsServiceRequestSchema, {
      resourceLogs: batch.toLogsData().resourceLogs,
    })
    : batch;
  const json = toJson(ExportLogsServiceRequestSchema, request, {
    enumAsInteger: true,
  }) as Json;
  const jsonResources = (json.resourceLogs ?? []) as Json[];
  request.resourceLogs.forEach((rl, i) => {
    const jsonScopes = (jsonResources[i].scopeLogs ?? []) as Json[];
    rl.scopeLogs.forEach((sl, j) => {
      const jsonRecords = (jsonScopes[j].logRecords ?? []) as Json[];
      sl.logRecords.forEach((record, k) => {
        if (record.traceId.length > 0) {
          jsonRecords[k].traceId = hex(record.traceId);
        }
        if (record.spanId.length > 0) {
          jsonRecords[k].spanId = hex(record.spanId);
        }
      });
    });
  });
  return json;
}

/**
 * Parses an OTLP/JSON logs request, ids as {@linkcode fromOtlpJson} takes
 * them (hex, or base64). Throws on invalid input.
 */
export function logsFromOtlpJson(value: unknown): ExportLogsServiceRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("OTLP/JSON request must be a JSON object");
  }
  const json = structuredClone(value) as Json;
  for (const rl of asArray(json.resourceLogs)) {
    for (const sl of asArray(rl.scopeLogs)) {
      for (const record of asArray(sl.logRecords)) {
        unhex(record, "traceId", 16);
        unhex(record, "spanId", 8);
      }
    }
  }
  return fromJson(ExportLogsServiceRequestSchema, json, {
    ignoreUnknownFields: true,
  });
}

function asArray(v: JsonValue | undefined): Json[] {
  return Array.isArray(v)
    ? v.filter((x): x is Json =>
      typeof x === "object" && x !== null && !Array.isArray(x)
    )
    : [];
}

function unhex(obj: Json, field: string, bytes: number): void {
  const v = obj[field];
  if (
    typeof v !== "string" || v.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(v)
  ) return;
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    out[i] = parseInt(v.slice(2 * i, 2 * i + 2), 16);
  }
  obj[field] = base64Encode(out);
}
