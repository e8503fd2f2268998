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
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageShape,
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
import { OtlpBatch } from "./batch.ts";
import { hex } from "./attributes.ts";

type Json = Record<string, JsonValue>;
const idFields = ["traceId", "spanId", "parentSpanId"] as const;

/** The fields that lead from a request to its items: groups, scopes, items. */
type ItemPath = readonly [string, string, string];
const spansPath: ItemPath = ["resourceSpans", "scopeSpans", "spans"];
const logsPath: ItemPath = ["resourceLogs", "scopeLogs", "logRecords"];

/**
 * Converts a request to its OTLP/JSON object (JSON.stringify it to send). A
 * {@linkcode OtlpBatch} is decoded span by span first, which costs several
 * times what its protobuf encoding does; a logs batch becomes an
 * ExportLogsServiceRequest ({@linkcode logsToOtlpJson}).
 */
export function toOtlpJson(
  batch: OtlpBatch | ExportTraceServiceRequest,
): JsonObject {
  if (batch instanceof OtlpBatch && batch.signal === "logs") {
    return logsToOtlpJson(batch);
  }
  const request = batch instanceof OtlpBatch
    ? create(ExportTraceServiceRequestSchema, {
      resourceSpans: batch.toTracesData().resourceSpans,
    })
    : batch;
  const spans = request.resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) => ss.spans)
  );
  return encode(
    ExportTraceServiceRequestSchema,
    request,
    spansPath,
    spans,
    hexIds,
  );
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
  return parse(ExportTraceServiceRequestSchema, value, spansPath, (span) => {
    for (const field of idFields) {
      unhex(span, field, field === "traceId" ? 16 : 8);
    }
    for (const link of asArray(span.links)) {
      unhex(link, "traceId", 16);
      unhex(link, "spanId", 8);
    }
  });
}

/**
 * Converts a logs request (or a logs {@linkcode OtlpBatch}) to its OTLP/JSON
 * object: trace and span ids in hex, enums as integers.
 */
export function logsToOtlpJson(
  batch: OtlpBatch | ExportLogsServiceRequest,
): JsonObject {
  const request = batch instanceof OtlpBatch
    ? create(ExportLogsServiceRequestSchema, {
      resourceLogs: batch.toLogsData().resourceLogs,
    })
    : batch;
  const records = request.resourceLogs.flatMap((rl) =>
    rl.scopeLogs.flatMap((sl) => sl.logRecords)
  );
  return encode(
    ExportLogsServiceRequestSchema,
    request,
    logsPath,
    records,
    (record, json) => {
      if (record.traceId.length > 0) json.traceId = hex(record.traceId);
      if (record.spanId.length > 0) json.spanId = hex(record.spanId);
    },
  );
}

/**
 * Parses an OTLP/JSON logs request, ids as {@linkcode fromOtlpJson} takes
 * them (hex, or base64). Throws on invalid input.
 */
export function logsFromOtlpJson(value: unknown): ExportLogsServiceRequest {
  return parse(ExportLogsServiceRequestSchema, value, logsPath, (record) => {
    unhex(record, "traceId", 16);
    unhex(record, "spanId", 8);
  });
}

/**
 * `request` as OTLP/JSON: protobuf JSON with enums as integers, and each
 * item's ids rewritten by `hexIds` (`items` are the request's items, in the
 * order of their JSON objects along `path`).
 */
function encode<Desc extends DescMessage, Item>(
  schema: Desc,
  request: MessageShape<Desc>,
  path: ItemPath,
  items: readonly Item[],
  hexIds: (item: Item, json: Json) => void,
): JsonObject {
  const json = toJson(schema, request, { enumAsInteger: true }) as Json;
  jsonItems(json, path).forEach((item, k) => hexIds(items[k], item));
  return json;
}

/** Parses an OTLP/JSON request after `unhexIds` rewrote each item's hex ids. */
function parse<Desc extends DescMessage>(
  schema: Desc,
  value: unknown,
  path: ItemPath,
  unhexIds: (item: Json) => void,
): MessageShape<Desc> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("OTLP/JSON request must be a JSON object");
  }
  const json = structuredClone(value) as Json;
  for (const item of jsonItems(json, path)) unhexIds(item);
  return fromJson(schema, json, { ignoreUnknownFields: true });
}

/** The item objects of a request in OTLP/JSON, in order: groups → scopes → items. */
function jsonItems(json: Json, [groups, scopes, items]: ItemPath): Json[] {
  return asArray(json[groups]).flatMap((group) =>
    asArray(group[scopes]).flatMap((scope) => asArray(scope[items]))
  );
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
