import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ScopeSpansSchema,
  type Span,
  SpanSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { applyTraceIdRatio, TraceIdRatio } from "./sample.ts";
import { OtlpBatch } from "./batch.ts";
import { attr, sampleSpans, sampleTraces } from "../../testing/traces.ts";

interface Vectors {
  ratios: { ratio: number; traceIds: string[]; keep: string }[];
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
}

Deno.test("TraceIdRatio decides every trace id of the Go SDK's table as TraceIDRatioBased does", async () => {
  // Written by go/sdk/ratio_vectors_test.go from the SDK's own sampler.
  const table: Vectors = JSON.parse(
    await Deno.readTextFile(
      new URL("./testdata/trace_id_ratio.json", import.meta.url),
    ),
  );
  assert.ok(table.ratios.length >= 10);
  let decided = 0;
  for (const { ratio, traceIds, keep } of table.ratios) {
    const rule = new TraceIdRatio(ratio);
    traceIds.forEach((id, i) => {
      assert.equal(
        rule.keeps(hex(id)),
        keep[i] === "1",
        `ratio ${ratio}, trace id ${id}`,
      );
      decided++;
    });
  }
  assert.ok(decided >= 2000, `${decided} decisions`);
});

Deno.test("TraceIdRatio reads the low 56 bits at an offset and clamps its ratio", () => {
  const half = new TraceIdRatio(0.5);
  const ids = new Uint8Array(20);
  // Byte 8 of the id (index 11) is outside the 56 bits: ignored.
  ids[11] = 0xff;
  assert.equal(half.keeps(ids, 3), true);
  ids[12] = 0x80; // low 56 bits = 2^55 = the threshold: dropped
  assert.equal(half.keeps(ids, 3), false);
  ids[12] = 0x7f;
  ids.fill(0xff, 13);
  assert.equal(half.keeps(ids, 3), true); // 2^55 - 1
  assert.equal(new TraceIdRatio(2).keepsAll, true);
  assert.equal(new TraceIdRatio(-1).keepsNone, true);
  assert.equal(new TraceIdRatio(NaN).keepsNone, true);
  assert.equal(new TraceIdRatio(1).keeps(new Uint8Array(16).fill(255)), true);
  assert.equal(new TraceIdRatio(0).keeps(new Uint8Array(16)), false);
});

/** A span of the trace whose id has `low` as its last byte and `mid` before the 56 bits' top byte. */
function span(spans: Span[], i: number, top: number): Span {
  const s = spans[i];
  s.traceId = new Uint8Array(16);
  s.traceId[9] = top; // the 56 bits' most significant byte: < 0x80 kept at 0.5
  s.traceId[15] = i;
  return s;
}

/** One resource with two scopes: `first` and `second` give each span's top byte. */
function batchOf(first: number[], second: number[]): OtlpBatch {
  const spans = sampleSpans(first.length + second.length);
  const all = spans.map((_, i) => span(spans, i, [...first, ...second][i]));
  const traces = sampleTraces(all.slice(0, first.length));
  traces.resourceSpans[0].scopeSpans.push(
    create(ScopeSpansSchema, {
      scope: { name: "second", version: "2" },
      schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
      spans: all.slice(first.length),
    }),
  );
  return OtlpBatch.fromTracesData(traces);
}

const half = new TraceIdRatio(0.5);

Deno.test("applyTraceIdRatio hands back the batch itself when every span is kept", () => {
  const batch = batchOf([0, 1, 0x7f], [0x10]);
  const { kept, sampledOut } = applyTraceIdRatio(batch, half);
  assert.equal(kept, batch);
  assert.equal(sampledOut, 0);
  const always = applyTraceIdRatio(batchOf([0xff], []), new TraceIdRatio(1));
  assert.equal(always.sampledOut, 0);
  assert.ok(always.kept);
});

Deno.test("applyTraceIdRatio keeps nothing when every span is dropped, and releases nothing itself", () => {
  let released = 0;
  const source = batchOf([0x80, 0xff], [0x90]);
  const batch = new OtlpBatch(
    source.groups,
    source.items,
    () => released++,
  );
  assert.deepEqual(applyTraceIdRatio(batch, half), {
    kept: undefined,
    sampledOut: 3,
  });
  assert.deepEqual(applyTraceIdRatio(batch, new TraceIdRatio(0)), {
    kept: undefined,
    sampledOut: 3,
  });
  assert.equal(released, 0);
});

Deno.test("applyTraceIdRatio rewrites a mixed batch without the dropped spans, scopes and schema URLs kept", () => {
  let released = 0;
  const source = batchOf([0, 0x80, 0x20, 0xff], [0x90, 0xa0]);
  const batch = new OtlpBatch(
    source.groups,
    source.items,
    () => released++,
  );
  const { kept, sampledOut } = applyTraceIdRatio(batch, half);
  assert.ok(kept && kept !== batch);
  assert.equal(sampledOut, 4);
  assert.equal(kept.items, 2);
  const traces = kept.toTracesData();
  // The second scope lost all its spans and is gone.
  assert.equal(traces.resourceSpans.length, 1);
  const [rs] = traces.resourceSpans;
  assert.equal(rs.scopeSpans.length, 1);
  assert.equal(rs.scopeSpans[0].scope?.name, "spanbridge/sdk");
  assert.deepEqual(rs.scopeSpans[0].spans.map((s) => s.traceId[15]), [0, 2]);
  // What was kept is the original spans, byte for byte.
  const original = batch.toTracesData().resourceSpans[0].scopeSpans[0].spans;
  assert.deepEqual(
    toBinary(ScopeSpansSchema, rs.scopeSpans[0]),
    toBinary(
      ScopeSpansSchema,
      create(ScopeSpansSchema, {
        scope: rs.scopeSpans[0].scope,
        spans: [original[0], original[2]],
      }),
    ),
  );
  kept.release();
  assert.equal(released, 1);
});

Deno.test("applyTraceIdRatio keeps an untouched scope's bytes and drops a resource left without spans", () => {
  const first = batchOf([0x80], []);
  const second = batchOf([0x10, 0x90], [0x20]);
  const batch = new OtlpBatch([
    ...first.groups,
    ...second.groups,
  ]);
  const { kept, sampledOut } = applyTraceIdRatio(batch, half);
  assert.equal(sampledOut, 2);
  assert.ok(kept);
  assert.equal(kept.groups.length, 1);
  const [rs] = kept.groups;
  assert.equal(rs.items, 2);
  assert.equal(rs.resource, second.groups[0].resource);
  // The second scope kept all its spans: the same bytes, not a copy.
  assert.equal(rs.scopes[1], second.groups[0].scopes[1]);
  assert.equal(kept.bytes < batch.bytes, true);
});

Deno.test("applyTraceIdRatio takes a span's last trace_id and skips unknown fields of every wire type", () => {
  const [first] = sampleSpans(1);
  first.traceId = new Uint8Array(16).fill(0xff); // dropped at 0.5 ...
  first.attributes.push(attr("k", "v"));
  const spanBytes = toBinary(SpanSchema, first);
  // ... unless a later trace_id says otherwise, after unknown fields of
  // each wire type (varint, fixed64, length-delimited, group, fixed32).
  const extra = Uint8Array.of(
    0x0a,
    16,
    ...new Uint8Array(16), // trace_id = 0: kept
    0xf8,
    0x01,
    0x96,
    0x01, // field 31, varint 150
    0xf9,
    0x01,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // field 31, fixed64
    0xfb,
    0x01,
    0x08,
    0x01,
    0xfc,
    0x01, // field 31, group {1: 1}
    0xfd,
    0x01,
    1,
    2,
    3,
    4, // field 31, fixed32
  );
  const withExtra = new Uint8Array([...spanBytes, ...extra]);
  const ss = Uint8Array.of(
    ...spansField(withExtra),
    ...spansField(spanBytes),
  );
  const batch = new OtlpBatch([{
    resource: undefined,
    schemaUrl: "",
    scopes: [ss],
    items: 2,
  }]);
  const { kept, sampledOut } = applyTraceIdRatio(batch, half);
  assert.equal(sampledOut, 1);
  assert.deepEqual(
    kept?.groups[0].scopes[0],
    spansField(withExtra),
  );
});

/** `span` as a ScopeSpans.spans field (lengths below 2^14). */
function spansField(span: Uint8Array): Uint8Array {
  const length = span.length < 128
    ? [span.length]
    : [(span.length & 127) | 128, span.length >> 7];
  return Uint8Array.of(0x12, ...length, ...span);
}
