/**
 * Corrupt payloads for the fuzz and differential tests of src/decode.
 *
 * @module
 */

import { toBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { realisticTraces, richTraces } from "./traces.ts";

/** A seeded xorshift32 generator of numbers in [0, 1). */
export function random(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Valid payloads of several shapes: the starting points of mutations. */
export function validPayloads(): Uint8Array[] {
  const twoResources = realisticTraces(4);
  twoResources.resourceSpans.push(...realisticTraces(3, 9).resourceSpans);
  twoResources.resourceSpans[1].schemaUrl =
    "https://opentelemetry.io/schemas/1.26.0";
  twoResources.resourceSpans[1].scopeSpans.push(
    ...realisticTraces(2, 7).resourceSpans[0].scopeSpans,
  );
  return [
    realisticTraces(6),
    richTraces(),
    twoResources,
  ].map((t) => toBinary(TracesDataSchema, t));
}

/** Where the mutated payload came from, for assertion messages. */
export interface Mutation {
  /** What was done. */
  kind: string;
  /** The result. */
  payload: Uint8Array;
}

/**
 * One random corruption of `valid`: flipped, overwritten, inserted or
 * deleted bytes, truncation, bad varints, huge declared sizes, changed wire
 * types, and ids of wrong lengths.
 */
export function mutate(valid: Uint8Array, rand: () => number): Mutation {
  const at = (n = valid.length) => Math.floor(rand() * n);
  const byte = () => Math.floor(rand() * 256);
  const b = valid.slice();
  switch (at(8)) {
    case 0: {
      const flips = 1 + at(6);
      for (let i = 0; i < flips; i++) b[at()] = byte();
      return { kind: "flipped bytes", payload: b };
    }
    case 1:
      return { kind: "truncated", payload: b.subarray(0, at()) };
    case 2: {
      const p = at();
      const extra = Uint8Array.from({ length: 1 + at(8) }, byte);
      return {
        kind: "inserted bytes",
        payload: concat(b.subarray(0, p), extra, b.subarray(p)),
      };
    }
    case 3: {
      const p = at();
      return {
        kind: "deleted bytes",
        payload: concat(b.subarray(0, p), b.subarray(p + 1 + at(8))),
      };
    }
    case 4: {
      const p = at();
      b.fill(0xff, p, p + 1 + at(12));
      return { kind: "bad varint", payload: b };
    }
    case 5: {
      const p = at();
      const huge = [[0xff, 0xff, 0xff, 0xff, 0x0f], [0xff, 0xff, 0xff, 0x7f], [
        0x80,
        0x80,
        0x80,
        0x80,
        0x10,
      ]][at(3)];
      b.set(huge.slice(0, b.length - p), p);
      return { kind: "huge size", payload: b };
    }
    case 6: {
      const p = at();
      b[p] = (b[p] & ~7) | at(8);
      return { kind: "wire type", payload: b };
    }
    default:
      return { kind: "id lengths", payload: badIds(rand) };
  }
}

function badIds(rand: () => number): Uint8Array {
  const traces = realisticTraces(3);
  const spans = traces.resourceSpans[0].scopeSpans[0].spans;
  const span = spans[Math.floor(rand() * spans.length)];
  const length = () => [0, 4, 7, 8, 9, 15, 16, 17, 300][Math.floor(rand() * 9)];
  switch (Math.floor(rand() * 3)) {
    case 0:
      span.traceId = new Uint8Array(length());
      break;
    case 1:
      span.spanId = new Uint8Array(length());
      break;
    default:
      span.parentSpanId = new Uint8Array(length());
  }
  return toBinary(TracesDataSchema, traces);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
