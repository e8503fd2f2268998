/**
 * Sample OTLP traces for the unit tests and the benchmarks.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import {
  type AnyValue,
  ArrayValueSchema,
  type KeyValue,
  KeyValueListSchema,
  KeyValueSchema,
} from "../gen/opentelemetry/proto/common/v1/common_pb.ts";
import {
  type Span,
  Span_EventSchema,
  Span_LinkSchema,
  Span_SpanKind,
  SpanSchema,
  Status_StatusCode,
  type TracesData,
  TracesDataSchema,
} from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { OtlpBatch } from "../src/otlp/batch.ts";

/** A string attribute. */
export function attr(key: string, value: string): KeyValue {
  return create(KeyValueSchema, {
    key,
    value: { value: { case: "stringValue", value } },
  });
}

/** Bytes filled with `fill`, for ids. */
export function id(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

/**
 * A trace of `count` spans: a SERVER root "GET /" and CLIENT children, ids
 * derived from `seed`, start 1732450000123456789 ns, 1.5 ms per span.
 */
export function sampleSpans(count: number, seed = 1): Span[] {
  const traceId = id(16, seed);
  const start = 1732450000123456789n;
  return Array.from({ length: count }, (_, i) =>
    create(SpanSchema, {
      traceId,
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
      parentSpanId: i === 0
        ? new Uint8Array()
        : Uint8Array.of(seed, 0, 0, 0, 0, 0, 0, 1),
      name: i === 0 ? "GET /" : `query ${i}`,
      kind: i === 0 ? Span_SpanKind.SERVER : Span_SpanKind.CLIENT,
      startTimeUnixNano: start + BigInt(i),
      endTimeUnixNano: start + BigInt(i) + 1_500_000n,
      attributes: [attr("db.system", "sqlite")],
      status: {
        code: i === 0 ? Status_StatusCode.OK : Status_StatusCode.UNSET,
      },
    }));
}

/** TracesData with one resource ("demo" by default) and one scope holding `spans`. */
export function sampleTraces(spans: Span[], serviceName = "demo"): TracesData {
  return create(TracesDataSchema, {
    resourceSpans: [{
      resource: { attributes: [attr("service.name", serviceName)] },
      scopeSpans: [{
        scope: { name: "spanbridge/sdk", version: "0.1.0" },
        spans,
      }],
    }],
  });
}

/**
 * A request-shaped TracesData exercising every AnyValue kind, an event, a
 * link and flags, with values JavaScript numbers cannot hold exactly.
 */
export function richTraces(): TracesData {
  const spans = sampleSpans(2);
  const values: [string, AnyValue["value"]][] = [
    ["ratio", { case: "doubleValue", value: 3 }],
    ["big", { case: "intValue", value: 9007199254740993n }],
    ["neg", { case: "intValue", value: -9223372036854775808n }],
    ["ok", { case: "boolValue", value: true }],
    ["raw", { case: "bytesValue", value: Uint8Array.of(0, 1, 254, 255) }],
    ["list", {
      case: "arrayValue",
      value: create(ArrayValueSchema, {
        values: [{ value: { case: "stringValue", value: "x" } }, {
          value: { case: "intValue", value: 7n },
        }],
      }),
    }],
    ["map", {
      case: "kvlistValue",
      value: create(KeyValueListSchema, {
        values: [{
          key: "k",
          value: { value: { case: "doubleValue", value: 0.5 } },
        }],
      }),
    }],
    ["empty", { case: undefined }],
  ];
  for (const [key, value] of values) {
    spans[1].attributes.push(create(KeyValueSchema, { key, value: { value } }));
  }
  spans[1].events.push(
    create(Span_EventSchema, {
      name: "retry",
      timeUnixNano: 18446744073709551615n,
    }),
  );
  spans[1].links.push(
    create(Span_LinkSchema, {
      traceId: id(16, 0xab),
      spanId: id(8, 0xcd),
      flags: 0x301,
    }),
  );
  spans[1].flags = 0x101;
  return sampleTraces(spans);
}

/** `traces` as the decoder hands it on (the same bytes, grouped the same way). */
export function sampleBatch(traces: TracesData): OtlpBatch {
  return OtlpBatch.fromTracesData(traces);
}

/**
 * `count` spans shaped like a traced web service's: five attributes of mixed
 * types, one event with an attribute, a status, and a resource and scope as
 * the Go SDK sends them. For benchmarks and differential tests.
 */
export function realisticTraces(count: number, seed = 1): TracesData {
  const spans = sampleSpans(count, seed);
  const value = (v: AnyValue["value"]) => ({ value: v });
  spans.forEach((span, i) => {
    span.attributes = [
      attr("http.request.method", i % 3 ? "GET" : "POST"),
      create(KeyValueSchema, {
        key: "http.response.status_code",
        value: value({ case: "intValue", value: 200n + BigInt(i % 5) }),
      }),
      create(KeyValueSchema, {
        key: "db.client.duration",
        value: value({ case: "doubleValue", value: 0.25 + i / 7 }),
      }),
      create(KeyValueSchema, {
        key: "cache.hit",
        value: value({ case: "boolValue", value: i % 2 === 0 }),
      }),
      attr("url.path", `/api/v1/orders/${i}`),
    ];
    span.events = [create(Span_EventSchema, {
      name: "row fetched",
      timeUnixNano: span.startTimeUnixNano + 1000n,
      attributes: [attr("db.row", `r${i}`)],
    })];
  });
  const traces = sampleTraces(spans);
  traces.resourceSpans[0].resource!.attributes.push(
    attr("telemetry.sdk.name", "spanbridge"),
    attr("telemetry.sdk.language", "go"),
    attr("telemetry.sdk.version", "0.1.0"),
  );
  return traces;
}
