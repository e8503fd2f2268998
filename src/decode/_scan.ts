/**
 * Reads a TracesData payload into a {@linkcode SpanBatch}: validates the
 * whole message on the wire, checks every span's ids, decodes only the
 * resources and keeps each ScopeSpans as the bytes it came in.
 *
 * Validity is that of the full decoder (`fromBinary` plus the id checks):
 * scan_differential_test.ts holds the two side by side.
 *
 * @module
 */

import { fromBinary, mergeFromBinary } from "@bufbuild/protobuf";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  ResourceSpansSchema,
  ScopeSpansSchema,
  type Span,
  SpanSchema,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import {
  type EncodedResource,
  type EncodedResourceSpans,
  encodeResource,
  resourceKey,
  SpanBatch,
} from "../otlp/mod.ts";
import { Lenient, rulesOf, WireWalker } from "./_wire.ts";

/** Why a payload was refused, in the terms of decoder.ts. */
export interface ScanProblem {
  /** The CorruptReason. */
  reason: "bad_protobuf" | "bad_trace_id" | "bad_span_id";
  /** A sentence fragment for the log. */
  detail: string;
}

const tracesDataRules = rulesOf(TracesDataSchema);
const resourceSpansRules = rulesOf(ResourceSpansSchema);
const scopeSpansRules = rulesOf(ScopeSpansSchema);
const spanRules = rulesOf(SpanSchema);
const resourceRules = rulesOf(ResourceSchema);

/**
 * Interns resources by their encoding: the records of one process carry the
 * same resource bytes, and each distinct encoding gets one
 * {@linkcode EncodedResource} (its own copy of the bytes and its key), so the
 * key string is made once, not per record. Resources are not decoded here:
 * the exporter decodes a resource once, when it first merges it.
 */
export class ResourceMemo {
  readonly #byKey = new Map<string, EncodedResource>();
  #bytes = 0;
  // The last lookup: records of one process come in runs, and comparing
  // bytes costs less than making the key string.
  #last: EncodedResource | undefined;

  /** The interned resource encoded by `bytes` (which may be reused afterwards). */
  intern(bytes: Uint8Array): EncodedResource {
    if (this.#last && sameBytes(bytes, this.#last.bytes)) return this.#last;
    return this.#last = this.#lookup(bytes);
  }

  #lookup(bytes: Uint8Array): EncodedResource {
    const key = resourceKey(bytes);
    let resource = this.#byKey.get(key);
    if (!resource) {
      // Bounded in entries and bytes: an SDK that changes its resource on
      // every batch must not grow this map forever.
      if (this.#byKey.size >= 256 || this.#bytes > 4 << 20) {
        this.#byKey.clear();
        this.#bytes = 0;
      }
      resource = { bytes: bytes.slice(), key };
      this.#byKey.set(key, resource);
      this.#bytes += 2 * bytes.length;
    }
    return resource;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Reads `payload` (which the batch will share, so it must not change) into a
 * batch; resources are decoded through `resources`.
 */
export function scanTraces(
  payload: Uint8Array,
  resources: ResourceMemo = new ResourceMemo(),
): SpanBatch | ScanProblem {
  try {
    return new Scan(payload, resources).traces();
  } catch (e) {
    if (e instanceof Lenient) return decodeFully(payload);
    return notTraces(e);
  }
}

function notTraces(e: unknown): ScanProblem {
  return {
    reason: "bad_protobuf",
    detail: `payload is not a TracesData message: ${(e as Error).message}`,
  };
}

/** The first span with a bad id, remembered until the structure is known to be valid. */
interface IdProblem {
  reason: "bad_trace_id" | "bad_span_id";
  span: Uint8Array;
}

const idFields = [
  "",
  "Span.trace_id",
  "Span.span_id",
  "",
  "Span.parent_span_id",
];

class Scan {
  readonly #walker: WireWalker;
  readonly #resources: ResourceMemo;
  #idProblem: IdProblem | undefined;

  constructor(payload: Uint8Array, resources: ResourceMemo) {
    this.#walker = new WireWalker(payload);
    this.#resources = resources;
  }

  traces(): SpanBatch | ScanProblem {
    const walker = this.#walker;
    const groups: EncodedResourceSpans[] = [];
    const end = walker.length;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      if (fieldNo === 1) {
        const stop = walker.enter(wireType, end, "TracesData.resource_spans");
        groups.push(this.#resourceSpans(stop));
      } else {
        walker.field(tracesDataRules, fieldNo, wireType, end, 1);
      }
    }
    if (this.#idProblem) return idProblem(this.#idProblem);
    return new SpanBatch(groups);
  }

  #resourceSpans(end: number): EncodedResourceSpans {
    const walker = this.#walker;
    let resource: EncodedResource | undefined;
    let schemaUrl = "";
    const scopeSpans: Uint8Array[] = [];
    let spans = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      switch (fieldNo) {
        case 1: {
          const stop = walker.enter(wireType, end, "ResourceSpans.resource");
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
          break;
        }
        case 2: {
          const stop = walker.enter(wireType, end, "ResourceSpans.scope_spans");
          const body = walker.pos;
          spans += this.#scopeSpans(stop);
          scopeSpans.push(walker.bytes(body, stop));
          break;
        }
        case 3:
          schemaUrl = walker.string(wireType, end, "ResourceSpans.schema_url");
          break;
        default:
          walker.field(resourceSpansRules, fieldNo, wireType, end, 2);
      }
    }
    return { resource, schemaUrl, scopeSpans, spans };
  }

  #scopeSpans(end: number): number {
    const walker = this.#walker;
    let spans = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      if (fieldNo === 2) {
        const stop = walker.enter(wireType, end, "ScopeSpans.spans");
        this.#span(stop);
        spans++;
      } else {
        walker.field(scopeSpansRules, fieldNo, wireType, end, 3);
      }
    }
    return spans;
  }

  #span(end: number): void {
    const walker = this.#walker;
    const start = walker.pos;
    // Singular fields: the last occurrence counts, as in fromBinary.
    let traceId = 0;
    let spanId = 0;
    let parentSpanId = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      if (fieldNo === 1 || fieldNo === 2 || fieldNo === 4) {
        // Bytes fields: nothing to check beyond their length.
        const stop = walker.enter(wireType, end, idFields[fieldNo]);
        const length = stop - walker.pos;
        walker.pos = stop;
        if (fieldNo === 1) traceId = length;
        else if (fieldNo === 2) spanId = length;
        else parentSpanId = length;
      } else {
        walker.field(spanRules, fieldNo, wireType, end, 4);
      }
    }
    if (this.#idProblem) return;
    if (traceId !== 16) {
      this.#idProblem = {
        reason: "bad_trace_id",
        span: walker.bytes(start, end),
      };
    } else if (spanId !== 8 || (parentSpanId !== 0 && parentSpanId !== 8)) {
      this.#idProblem = {
        reason: "bad_span_id",
        span: walker.bytes(start, end),
      };
    }
  }
}

function idProblem({ reason, span: bytes }: IdProblem): ScanProblem {
  const span = fromBinary(SpanSchema, bytes);
  return { reason, detail: describeIds(span) };
}

function describeIds(span: Span): string {
  return span.traceId.length !== 16
    ? `span "${span.name}" has a ${span.traceId.length}-byte trace id`
    : `span "${span.name}" has a ${span.spanId.length}-byte id and a ${span.parentSpanId.length}-byte parent id`;
}

/**
 * The full decoder: for payloads {@linkcode WireWalker} found valid only
 * under fromBinary's lenient reading. Their ScopeSpans are re-encoded, so
 * what leaves is canonical protobuf every receiver reads alike.
 */
function decodeFully(payload: Uint8Array): SpanBatch | ScanProblem {
  let traces;
  try {
    traces = fromBinary(TracesDataSchema, payload);
  } catch (e) {
    return notTraces(e);
  }
  for (const rs of traces.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        if (span.traceId.length !== 16) {
          return { reason: "bad_trace_id", detail: describeIds(span) };
        }
        if (
          span.spanId.length !== 8 ||
          (span.parentSpanId.length !== 0 && span.parentSpanId.length !== 8)
        ) {
          return { reason: "bad_span_id", detail: describeIds(span) };
        }
      }
    }
  }
  return SpanBatch.fromTracesData(traces);
}
