// The pass-through (_scan.ts) against the full decoder it replaced: same
// verdict on every input, same messages out of every accepted one.
import { deepStrictEqual, ok } from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ExportTraceServiceRequestSchema } from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  type ResourceSpans,
  ScopeSpansSchema,
  type TracesData,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { hex } from "../otlp/mod.ts";
import { mergeResource, readResourceEnv } from "../export/mod.ts";
import { encodeResource, OtlpBatch } from "../otlp/mod.ts";
import { mutate, random, validPayloads } from "../../testing/mutations.ts";
import { traceScanner } from "./_scan_traces.ts";

/** The decoder before the pass-through: fromBinary, then the id checks. */
function fullDecode(payload: Uint8Array): TracesData | string {
  let traces: TracesData;
  try {
    traces = fromBinary(TracesDataSchema, payload);
  } catch {
    return "bad_protobuf";
  }
  for (const rs of traces.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        if (span.traceId.length !== 16) return "bad_trace_id";
        if (
          span.spanId.length !== 8 ||
          (span.parentSpanId.length !== 0 && span.parentSpanId.length !== 8)
        ) return "bad_span_id";
      }
    }
  }
  return traces;
}

/**
 * The content of resource spans, each message canonically encoded: exact
 * (unlike equals(), NaN equals itself) and including unknown fields below
 * ResourceSpans, which the pass-through keeps.
 */
function content(resourceSpans: ResourceSpans[]) {
  return resourceSpans.map((rs) => ({
    resource: rs.resource && hex(toBinary(ResourceSchema, rs.resource)),
    schemaUrl: rs.schemaUrl,
    scopeSpans: rs.scopeSpans.map((ss) => hex(toBinary(ScopeSpansSchema, ss))),
  }));
}

const host = { name: "box", arch: "amd64" };
const merged = mergeResource(undefined, { pid: 7 }, readResourceEnv({}), host);

/** Checks one input; returns the verdict. */
function compare(payload: Uint8Array, what: string): string {
  const full = fullDecode(payload);
  const fast = traceScanner.scan(payload);
  if (!(fast instanceof OtlpBatch)) {
    deepStrictEqual(fast.reason, full, `${what}: ${fast.detail}`);
    return fast.reason;
  }
  ok(typeof full !== "string", `${what}: the full decoder says ${full}`);
  const spans = full.resourceSpans.flatMap((rs) => rs.scopeSpans)
    .reduce((n, ss) => n + ss.spans.length, 0);
  deepStrictEqual(fast.items, spans, what);
  deepStrictEqual(
    content(fast.toTracesData().resourceSpans),
    content(full.resourceSpans),
    what,
  );
  // What leaves for the receiver: the old path re-encoded everything.
  const exported = new OtlpBatch(
    fast.groups.map((rs) => ({
      ...rs,
      resource: encodeResource(merged),
    })),
  ).toBinary();
  for (const rs of full.resourceSpans) rs.resource = merged;
  const old = toBinary(
    ExportTraceServiceRequestSchema,
    create(ExportTraceServiceRequestSchema, {
      resourceSpans: full.resourceSpans,
    }),
  );
  deepStrictEqual(
    content(
      fromBinary(ExportTraceServiceRequestSchema, exported).resourceSpans,
    ),
    content(fromBinary(ExportTraceServiceRequestSchema, old).resourceSpans),
    what,
  );
  return "ok";
}

Deno.test("pass-through accepts valid payloads and exports the same messages as the full decoder", () => {
  for (const [i, payload] of validPayloads().entries()) {
    deepStrictEqual(compare(payload, `valid payload ${i}`), "ok");
  }
  deepStrictEqual(compare(new Uint8Array(), "empty payload"), "ok");
});

Deno.test("pass-through and full decoder agree on 12,000 mutated payloads", () => {
  const rand = random(0x5eed);
  const valid = validPayloads();
  const verdicts: Record<string, number> = {};
  for (let i = 0; i < 12_000; i++) {
    const { kind, payload } = mutate(valid[i % valid.length], rand);
    const verdict = compare(payload, `mutation ${i} (${kind})`);
    verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
  }
  // Both outcomes must be well represented for the test to mean anything.
  for (const v of ["ok", "bad_protobuf", "bad_trace_id", "bad_span_id"]) {
    ok((verdicts[v] ?? 0) > 100, `only ${verdicts[v] ?? 0} verdicts "${v}"`);
  }
});
