/**
 * Decoding and export encoding of one ring record of 980 realistic spans
 * (about 258 KB, just within the 256 KiB record limit):
 * the pass-through (Decoder → OtlpBatch.toBinary) against the full decode it
 * replaced (fromBinary, id checks, toBinary); and OTLP/JSON, which still
 * decodes every span (after the scan, so a little slower than before);
 * and `--sample` (src/otlp/sample.ts) after the decode, on a record of 98
 * traces of 10 spans: at ratio 1, at 0.5 with every trace kept (scanned,
 * not copied), at 0.5 with about half kept (rewritten), at 0.
 * Spans/s = 980 / the time per iteration.
 *
 *     deno bench -A bench/decode_bench.ts
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ExportTraceServiceRequestSchema } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import {
  type TracesData,
  TracesDataSchema,
} from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { toOtlpJson } from "../src/otlp/mod.ts";
import { mergeResource, readResourceEnv } from "../src/export/resource.ts";
import { realisticTraces } from "../testing/traces.ts";
import {
  applyTraceIdRatio,
  encodeResource,
  OtlpBatch,
  TraceIdRatio,
} from "../src/otlp/mod.ts";
import { Decoder } from "../src/decode/decoder.ts";
import { encodeRecord, HEADER_SIZE } from "../src/decode/header.ts";

const spans = 980;
const payload = toBinary(TracesDataSchema, realisticTraces(spans));
const record = encodeRecord({ tgid: 1, pid: 1, cpu: 0, seq: 0 }, payload);
const merged = mergeResource(
  undefined,
  { pid: 1, exeName: "shop" },
  readResourceEnv({}),
  { name: "box", arch: "amd64" },
);
const mergedEncoded = encodeResource(merged);
const decoder = new Decoder();

/** The decode this work replaced: every span becomes a gen/ message. */
function fullDecode(record: Uint8Array): TracesData {
  const traces = fromBinary(
    TracesDataSchema,
    record.slice(HEADER_SIZE, HEADER_SIZE + payload.length),
  );
  for (const rs of traces.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        if (
          span.traceId.length !== 16 || span.spanId.length !== 8 ||
          (span.parentSpanId.length !== 0 && span.parentSpanId.length !== 8)
        ) throw new Error("bad ids");
      }
    }
  }
  return traces;
}

Deno.bench(`decode+validate ${spans} spans: full decode (old)`, {
  group: "decode",
  baseline: true,
}, () => {
  fullDecode(record);
});

Deno.bench(`decode+validate ${spans} spans: pass-through (new)`, {
  group: "decode",
}, () => {
  decoder.decode(record);
});

Deno.bench(`decode+serialize ${spans} spans: full decode, toBinary (old)`, {
  group: "export",
  baseline: true,
}, () => {
  const traces = fullDecode(record);
  for (const rs of traces.resourceSpans) rs.resource = merged;
  toBinary(
    ExportTraceServiceRequestSchema,
    create(ExportTraceServiceRequestSchema, {
      resourceSpans: traces.resourceSpans,
    }),
  );
});

Deno.bench(`decode+serialize ${spans} spans: pass-through (new)`, {
  group: "export",
}, () => {
  const { batch } = decoder.decode(record)!;
  new OtlpBatch(
    batch.groups.map((rs) => ({ ...rs, resource: mergedEncoded })),
  )
    .toBinary();
});

Deno.bench(`decode+serialize ${spans} spans, OTLP/JSON: full decode (old)`, {
  group: "json",
  baseline: true,
}, () => {
  const traces = fullDecode(record);
  for (const rs of traces.resourceSpans) rs.resource = merged;
  const request = create(ExportTraceServiceRequestSchema, {
    resourceSpans: traces.resourceSpans,
  });
  new TextEncoder().encode(JSON.stringify(toOtlpJson(request)));
});

Deno.bench(
  `decode+serialize ${spans} spans, OTLP/JSON: scan, then full decode (new)`,
  {
    group: "json",
  },
  () => {
    const { batch } = decoder.decode(record)!;
    const request = new OtlpBatch(
      batch.groups.map((rs) => ({ ...rs, resource: mergedEncoded })),
    );
    new TextEncoder().encode(JSON.stringify(toOtlpJson(request)));
  },
);

/**
 * A record of `spans` spans in traces of 10; `top` gives each trace the
 * byte that decides it at ratio 0.5 (below 0x80: kept).
 */
function tracesRecord(top: (trace: number) => number): Uint8Array {
  const traces = realisticTraces(spans);
  traces.resourceSpans[0].scopeSpans[0].spans.forEach((span, i) => {
    const trace = Math.floor(i / 10);
    span.traceId = new Uint8Array(16);
    span.traceId[9] = top(trace);
    span.traceId[15] = trace;
  });
  return encodeRecord(
    { tgid: 1, pid: 1, cpu: 0, seq: 0 },
    toBinary(TracesDataSchema, traces),
  );
}

const mixedRecord = tracesRecord((trace) => (trace * 37) % 256);
const keptRecord = tracesRecord((trace) => trace % 128);
const sampleDecoder = new Decoder();
const sample = (record: Uint8Array, rule: TraceIdRatio) => {
  const { batch } = sampleDecoder.decode(record)!;
  const { kept } = applyTraceIdRatio(batch, rule);
  kept?.release();
  batch.release();
};

Deno.bench(`decode ${spans} spans in 98 traces, no sampling`, {
  group: "sample",
  baseline: true,
}, () => {
  sampleDecoder.decode(mixedRecord)!.batch.release();
});

Deno.bench(`decode ${spans} spans, sample at 1 (batch passed on)`, {
  group: "sample",
}, () => sample(mixedRecord, new TraceIdRatio(1)));

Deno.bench(`decode ${spans} spans, sample at 0.5, all kept (scan only)`, {
  group: "sample",
}, () => sample(keptRecord, new TraceIdRatio(0.5)));

Deno.bench(`decode ${spans} spans, sample at 0.5, half kept (rewrite)`, {
  group: "sample",
}, () => sample(mixedRecord, new TraceIdRatio(0.5)));

Deno.bench(`decode ${spans} spans, sample at 0 (batch dropped)`, {
  group: "sample",
}, () => sample(mixedRecord, new TraceIdRatio(0)));
