/**
 * {@linkcode SpanBatch}: validated spans whose ScopeSpans stay in their wire
 * form, so that exporting them to OTLP/HTTP protobuf copies bytes instead of
 * decoding and re-encoding every span.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
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
    const w = new BinaryWriter();
    for (const rs of this.resourceSpans) {
      w.tag(1, WireType.LengthDelimited).fork();
      if (rs.resource) {
        w.tag(1, WireType.LengthDelimited).bytes(encodedResource(rs.resource));
      }
      for (const ss of rs.scopeSpans) {
        w.tag(2, WireType.LengthDelimited).bytes(ss);
      }
      if (rs.schemaUrl !== "") {
        w.tag(3, WireType.LengthDelimited).string(rs.schemaUrl);
      }
      w.join();
    }
    return w.finish();
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
