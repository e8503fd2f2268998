/**
 * {@linkcode SpanBatch}: validated spans whose ScopeSpans stay in their wire
 * form, so that exporting them to OTLP/HTTP protobuf copies bytes instead of
 * decoding and re-encoding every span.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Resource,
  ResourceSchema,
} from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  type ResourceSpans,
  ResourceSpansSchema,
  ScopeSpansSchema,
  type TracesData,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";

/** A ResourceSpans with its Resource decoded and its ScopeSpans encoded. */
export interface EncodedResourceSpans {
  /**
   * The resource, or undefined when the message had none. Do not modify it:
   * {@linkcode SpanBatch.toBinary} keeps its encoding per object.
   */
  readonly resource: Resource | undefined;
  /** ResourceSpans.schema_url. */
  readonly schemaUrl: string;
  /** Each ScopeSpans message, encoded (without field tag and length). */
  readonly scopeSpans: readonly Uint8Array[];
  /** Spans in `scopeSpans`. */
  readonly spans: number;
}

/**
 * Spans grouped by resource, as a TracesData (or, with the same encoding,
 * an ExportTraceServiceRequest) holds them. The ScopeSpans bytes were
 * validated by the decoder and are never modified.
 */
export class SpanBatch {
  /** The groups, in order. */
  readonly resourceSpans: readonly EncodedResourceSpans[];
  /** Spans in all groups. */
  readonly spans: number;

  /** Wraps `resourceSpans`; `spans` defaults to the sum of their counts. */
  constructor(
    resourceSpans: readonly EncodedResourceSpans[],
    spans: number = resourceSpans.reduce((n, rs) => n + rs.spans, 0),
  ) {
    this.resourceSpans = resourceSpans;
    this.spans = spans;
  }

  /**
   * The batch as protobuf TracesData, which is byte for byte an
   * ExportTraceServiceRequest too (both are `repeated ResourceSpans = 1`).
   * Only the resources are encoded (once per Resource object); the
   * ScopeSpans bytes are copied as they are.
   */
  toBinary(): Uint8Array {
    // Sized first, then written into one buffer: the ScopeSpans bytes are
    // copied once, and nothing else is allocated per request.
    const schemaUrls = this.resourceSpans.map((rs) =>
      rs.schemaUrl === "" ? undefined : utf8.encode(rs.schemaUrl)
    );
    const sizes = this.resourceSpans.map((rs, i) => {
      let n = rs.resource ? field(encodedResource(rs.resource).length) : 0;
      for (const ss of rs.scopeSpans) n += field(ss.length);
      const url = schemaUrls[i];
      return url ? n + field(url.length) : n;
    });
    const out = new Uint8Array(sizes.reduce((n, size) => n + field(size), 0));
    let at = 0;
    const put = (tag: number, bytes: Uint8Array) => {
      out[at] = tag;
      at = putVarint(out, at + 1, bytes.length);
      out.set(bytes, at);
      at += bytes.length;
    };
    // Tags are (field << 3) | 2: TracesData.resource_spans = 1;
    // ResourceSpans.resource = 1, scope_spans = 2, schema_url = 3.
    this.resourceSpans.forEach((rs, i) => {
      out[at] = 0x0a;
      at = putVarint(out, at + 1, sizes[i]);
      if (rs.resource) put(0x0a, encodedResource(rs.resource));
      for (const ss of rs.scopeSpans) put(0x12, ss);
      const url = schemaUrls[i];
      if (url) put(0x1a, url);
    });
    return out;
  }

  /**
   * Decodes every span into gen/ messages, for the exporters that need them
   * (OTLP/JSON, console). Much slower than {@linkcode SpanBatch.toBinary}:
   * it is what the pass-through avoids.
   */
  toTracesData(): TracesData {
    return create(TracesDataSchema, {
      resourceSpans: this.resourceSpans.map((rs): ResourceSpans =>
        create(ResourceSpansSchema, {
          resource: rs.resource,
          schemaUrl: rs.schemaUrl,
          scopeSpans: rs.scopeSpans.map((ss) =>
            fromBinary(ScopeSpansSchema, ss)
          ),
        })
      ),
    });
  }
}

const utf8 = new TextEncoder();

/** Size of a length-delimited field of `n` bytes with a one-byte tag. */
function field(n: number): number {
  return 1 + varintSize(n) + n;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes `n` (below 2^53) as a varint at `at`; returns the next position. */
function putVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

const resourceBytes = new WeakMap<Resource, Uint8Array>();

/** Merged resources are shared by all records of a process: encode each once. */
function encodedResource(resource: Resource): Uint8Array {
  let bytes = resourceBytes.get(resource);
  if (!bytes) {
    bytes = toBinary(ResourceSchema, resource);
    resourceBytes.set(resource, bytes);
  }
  return bytes;
}
