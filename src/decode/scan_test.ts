import {
  deepStrictEqual,
  notDeepStrictEqual,
  ok,
  strictEqual,
} from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type AnyValue,
  AnyValueSchema,
} from "../../gen/opentelemetry/proto/common/v1/common_pb.ts";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  ScopeSpansSchema,
  SpanSchema,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { attr, realisticTraces, sampleSpans } from "../../testing/traces.ts";
import { decodeResource, encodeResource, OtlpBatch } from "../otlp/mod.ts";
import { ResourceMemo, type ScanProblem } from "./_scan.ts";
import { traceScanner } from "./_scan_traces.ts";

/** TracesData bytes around one span given as bytes, in a scope with a name. */
function tracesAround(span: Uint8Array): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork();
  w.tag(2, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited)
    .string("scope").join();
  w.tag(2, WireType.LengthDelimited).bytes(span);
  return w.join().join().finish();
}

const spanBytes = (extra: number[] = [], before: number[] = []) =>
  Uint8Array.from([
    ...before,
    ...toBinary(SpanSchema, sampleSpans(2)[1]),
    ...extra,
  ]);

function accepted(payload: Uint8Array): OtlpBatch {
  const batch = traceScanner.scan(payload);
  ok(batch instanceof OtlpBatch, (batch as ScanProblem).detail);
  return batch;
}

function refused(payload: Uint8Array): ScanProblem {
  const problem = traceScanner.scan(payload);
  ok(!(problem instanceof OtlpBatch), "the payload was accepted");
  return problem;
}

Deno.test("scan keeps each ScopeSpans as the very bytes it came in", () => {
  const payload = toBinary(TracesDataSchema, realisticTraces(5));
  const batch = accepted(payload);
  strictEqual(batch.items, 5);
  const [scope] = batch.groups[0].scopes;
  strictEqual(scope.buffer, payload.buffer);
  deepStrictEqual(
    scope,
    toBinary(
      ScopeSpansSchema,
      realisticTraces(5).resourceSpans[0].scopeSpans[0],
    ),
  );
  deepStrictEqual(
    batch.groups[0].resource,
    encodeResource(realisticTraces(5).resourceSpans[0].resource!),
  );
});

Deno.test("scan keeps unknown span fields", () => {
  const batch = accepted(tracesAround(spanBytes([0xa0, 0x06, 0x2a]))); // field 100 = 42
  const span = batch.toTracesData().resourceSpans[0].scopeSpans[0].spans[0];
  deepStrictEqual(span.$unknown?.map((u) => u.no), [100]);
});

Deno.test("scan takes the last of repeated id fields, as protobuf does", () => {
  const traceId15 = [0x0a, 15, ...new Uint8Array(15)];
  strictEqual(accepted(tracesAround(spanBytes([], traceId15))).items, 1);
  const problem = refused(tracesAround(spanBytes(traceId15)));
  strictEqual(problem.reason, "bad_trace_id");
  strictEqual(problem.detail, 'span "query 1" has a 15-byte trace id');
});

Deno.test("scan refuses a span name that is not UTF-8", () => {
  const problem = refused(tracesAround(spanBytes([0x2a, 2, 0xc3, 0x28])));
  strictEqual(problem.reason, "bad_protobuf");
  ok(problem.detail.includes("Span.name"), problem.detail);
});

Deno.test("scan merges a repeated resource and reads the schema URL", () => {
  const resource = (key: string) =>
    toBinary(
      ResourceSchema,
      create(ResourceSchema, { attributes: [attr(key, "v")] }),
    );
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork()
    .tag(1, WireType.LengthDelimited).bytes(resource("a"))
    .tag(1, WireType.LengthDelimited).bytes(resource("b"))
    .tag(3, WireType.LengthDelimited).string("https://example.com/s")
    .join();
  const [rs] = accepted(w.finish()).groups;
  deepStrictEqual(
    decodeResource(rs.resource!).attributes.map((kv) => kv.key),
    ["a", "b"],
  );
  strictEqual(rs.schemaUrl, "https://example.com/s");
});

Deno.test("scan re-encodes what only a lenient decoder reads, instead of forwarding it", () => {
  // Span.kind as a 10-byte varint overflowing 64 bits: fromBinary reads it,
  // protobuf-go refuses it.
  const span = spanBytes([0x30, ...new Array(9).fill(0xff), 0x7f]);
  const payload = tracesAround(span);
  const batch = accepted(payload);
  const [scope] = batch.groups[0].scopes;
  notDeepStrictEqual(scope, payload.subarray(payload.length - scope.length));
  deepStrictEqual(
    fromBinary(ScopeSpansSchema, scope),
    fromBinary(TracesDataSchema, payload).resourceSpans[0].scopeSpans[0],
  );
});

Deno.test("scan refuses nesting deeper than fromBinary's limit of 100", () => {
  const nested = (depth: number): AnyValue => {
    let v = create(AnyValueSchema, {
      value: { case: "stringValue", value: "x" },
    });
    for (let i = 0; i < depth; i++) {
      v = create(AnyValueSchema, {
        value: { case: "arrayValue", value: { values: [v] } },
      });
    }
    return v;
  };
  for (const [depth, valid] of [[40, true], [60, false]] as const) {
    const span = sampleSpans(1)[0];
    span.attributes[0].value = nested(depth);
    const payload = tracesAround(toBinary(SpanSchema, span));
    let full = true;
    try {
      fromBinary(TracesDataSchema, payload);
    } catch {
      full = false;
    }
    strictEqual(full, valid, `fromBinary at depth ${depth}`);
    strictEqual(
      traceScanner.scan(payload) instanceof OtlpBatch,
      valid,
      `depth ${depth}`,
    );
  }
});

Deno.test("ResourceMemo interns one resource and key per distinct encoding, also when interleaved", () => {
  const memo = new ResourceMemo();
  const encode = (name: string) =>
    toBinary(
      ResourceSchema,
      create(ResourceSchema, { attributes: [attr("service.name", name)] }),
    );
  const a = memo.intern(encode("a"));
  const b = memo.intern(encode("b"));
  strictEqual(memo.intern(encode("b")), b, "the last one again");
  strictEqual(memo.intern(encode("a")), a, "an earlier one");
  ok(a.key !== b.key);
  deepStrictEqual(
    [a, b].map((r) =>
      fromBinary(ResourceSchema, r.bytes).attributes[0].value?.value.value
    ),
    ["a", "b"],
  );
  const bytes = encode("c");
  const c = memo.intern(bytes);
  bytes.fill(0); // the memo keeps its own copy of what it compares
  strictEqual(memo.intern(encode("c")), c);
  deepStrictEqual(c.bytes, encode("c"));
  strictEqual(
    c.key,
    new ResourceMemo().intern(encode("c")).key,
    "keys are explicit, not per memo",
  );
});
