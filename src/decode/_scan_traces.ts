/**
 * The scan of a TracesData payload (see _scan.ts): a span's trace id must be
 * 16 bytes, its id 8 and its parent id empty or 8.
 *
 * @module
 */

import { fromBinary } from "@bufbuild/protobuf";
import {
  ResourceSpansSchema,
  ScopeSpansSchema,
  type Span,
  SpanSchema,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { OtlpBatch } from "../otlp/mod.ts";
import { rulesOf } from "./_wire.ts";
import { type IdReason, SignalScanner } from "./_scan.ts";

/** Why a span's ids (given by their lengths) are bad, if they are. */
function idProblem(
  traceId: number,
  spanId: number,
  parentSpanId: number,
): IdReason | undefined {
  if (traceId !== 16) return "bad_trace_id";
  if (spanId !== 8 || (parentSpanId !== 0 && parentSpanId !== 8)) {
    return "bad_span_id";
  }
  return undefined;
}

function describe(span: Span): string {
  return span.traceId.length !== 16
    ? `span "${span.name}" has a ${span.traceId.length}-byte trace id`
    : `span "${span.name}" has a ${span.spanId.length}-byte id and a ${span.parentSpanId.length}-byte parent id`;
}

const spanRules = rulesOf(SpanSchema);

const idFields = [
  "",
  "Span.trace_id",
  "Span.span_id",
  "",
  "Span.parent_span_id",
];

/** The scanner of TracesData payloads into batches of spans. */
export const traceScanner = new SignalScanner({
  signal: "traces",
  data: TracesDataSchema,
  group: ResourceSpansSchema,
  scope: ScopeSpansSchema,
  item(walker, end) {
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
    return idProblem(traceId, spanId, parentSpanId);
  },
  describe: (span) => describe(fromBinary(SpanSchema, span)),
  firstBadItem(data) {
    for (const rs of data.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          const reason = idProblem(
            span.traceId.length,
            span.spanId.length,
            span.parentSpanId.length,
          );
          if (reason) return { reason, detail: describe(span) };
        }
      }
    }
    return undefined;
  },
  batchOf: (data) => OtlpBatch.fromTracesData(data),
});
