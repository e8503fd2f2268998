/**
 * Trace-id-ratio sampling of pass-through batches: the spanbridge Go SDK's
 * rule ({@linkcode TraceIdRatio}), and {@linkcode applyTraceIdRatio}, which takes
 * the spans of unwanted traces out of a {@linkcode OtlpBatch} without
 * decoding it.
 *
 * @module
 */

import { type EncodedGroup, OtlpBatch } from "./batch.ts";

/**
 * The spanbridge Go SDK's `TraceIDRatioBased` rule (go/sdk/sampler.go): a
 * trace is kept when the low 56 bits of its id (bytes 9 to 15, the W3C
 * Trace Context level 2 random part, big-endian) are below
 * `floor(ratio * 2^56)`. The decision depends on the trace id alone, so
 * every process and every node decides alike, and a lower ratio keeps a
 * subset of what a higher one keeps (an agent's ratio under the SDK's
 * drops further traces whole, never parts of the SDK's).
 *
 * @example
 * ```ts
 * const half = new TraceIdRatio(0.5);
 * half.keeps(new Uint8Array(16)); // true: the low bits are 0
 * ```
 */
export class TraceIdRatio {
  /** The ratio, clamped to [0, 1] (NaN is 0), as the SDK clamps it. */
  readonly ratio: number;
  /** True when every trace is kept (ratio 1). */
  readonly keepsAll: boolean;
  /** True when no trace is kept (ratio 0). */
  readonly keepsNone: boolean;
  // The threshold in two parts: 2^56 exceeds a double's exact integers,
  // and two integer comparisons are cheaper than a BigInt per span.
  readonly #hi: number;
  readonly #lo: number;

  /** The rule for `ratio`. */
  constructor(ratio: number) {
    this.ratio = ratio >= 1 ? 1 : ratio > 0 ? ratio : 0;
    this.keepsAll = this.ratio === 1;
    this.keepsNone = this.ratio === 0;
    // Exact: a product with a power of two, floored as Go's uint64()
    // truncates, then split at a power of two.
    const threshold = Math.floor(this.ratio * 2 ** 56);
    this.#hi = Math.floor(threshold / 2 ** 32);
    this.#lo = threshold % 2 ** 32;
  }

  /** Whether the trace whose 16-byte id starts at `bytes[at]` is kept. */
  keeps(bytes: Uint8Array, at = 0): boolean {
    const hi = (bytes[at + 9] << 16) | (bytes[at + 10] << 8) | bytes[at + 11];
    if (hi !== this.#hi) return hi < this.#hi;
    const lo = bytes[at + 12] * 0x1000000 +
      ((bytes[at + 13] << 16) | (bytes[at + 14] << 8) | bytes[at + 15]);
    return lo < this.#lo;
  }
}

/** What {@linkcode applyTraceIdRatio} kept of a batch. */
export interface SampledBatch {
  /**
   * The spans kept: the batch itself when all were kept (nothing copied),
   * undefined when none were.
   */
  kept: OtlpBatch | undefined;
  /** Spans taken out. */
  sampledOut: number;
}

/**
 * Keeps the spans of `batch` whose traces `rule` keeps. A ScopeSpans whose
 * spans are all kept stays the bytes it was; one with some taken out is
 * copied once without them (its scope and schema URL stay); groups left
 * without spans go. The bytes must be valid (as the decoder left them).
 * The kept batch's release() releases `batch`.
 */
export function applyTraceIdRatio(
  batch: OtlpBatch,
  rule: TraceIdRatio,
): SampledBatch {
  if (rule.keepsAll) return { kept: batch, sampledOut: 0 };
  if (rule.keepsNone) return { kept: undefined, sampledOut: batch.items };
  let changed: EncodedGroup[] | undefined;
  let kept = 0;
  batch.groups.forEach((rs, i) => {
    let scopes: Uint8Array[] | undefined;
    let rsKept = 0;
    rs.scopes.forEach((ss, j) => {
      const { spans, keptSpans, keptBytes } = countKept(ss, rule);
      rsKept += keptSpans;
      if (keptSpans === spans && !scopes) return;
      scopes ??= rs.scopes.slice(0, j);
      if (keptSpans === spans) scopes.push(ss);
      else if (keptSpans > 0) scopes.push(copyKept(ss, keptBytes));
    });
    kept += rsKept;
    if (!scopes && !changed) return;
    changed ??= batch.groups.slice(0, i);
    if (!scopes) changed.push(rs);
    else if (rsKept > 0) {
      changed.push({ ...rs, scopes, items: rsKept });
    }
  });
  if (!changed) return { kept: batch, sampledOut: 0 };
  const sampledOut = batch.items - kept;
  if (kept === 0) return { kept: undefined, sampledOut };
  return {
    kept: new OtlpBatch(changed, kept, () => batch.release()),
    sampledOut,
  };
}

// ScopeSpans.spans = 2 and Span.trace_id = 1, both length-delimited.
const spansTag = 0x12;
const traceIdTag = 0x0a;

/**
 * The decision on each span of the ScopeSpans {@linkcode countKept} read
 * last, in order, for {@linkcode copyKept}: its trace ids are not looked
 * for twice. Reused, as {@linkcode field} is.
 */
const decisions: boolean[] = [];

/**
 * Spans in the ScopeSpans `ss`, how many `rule` keeps (each decision in
 * {@linkcode decisions}), and the size of the message without the others:
 * one pass, nothing allocated once `decisions` has grown.
 */
function countKept(
  ss: Uint8Array,
  rule: TraceIdRatio,
): { spans: number; keptSpans: number; keptBytes: number } {
  let spans = 0;
  let keptSpans = 0;
  let keptBytes = 0;
  for (let at = 0; at < ss.length;) {
    // Copied out: traceIdAt reads fields into the same object.
    const { tag, start, end } = readField(ss, at);
    if (tag === spansTag) {
      const keep = rule.keeps(ss, traceIdAt(ss, start, end));
      decisions[spans++] = keep;
      if (!keep) {
        at = end;
        continue;
      }
      keptSpans++;
    }
    keptBytes += end - at;
    at = end;
  }
  return { spans, keptSpans, keptBytes };
}

/**
 * `ss` without the spans {@linkcode countKept} decided to drop (it must
 * have read `ss` last), in a new buffer of `size` bytes.
 */
function copyKept(ss: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let put = 0;
  let span = 0;
  for (let at = 0; at < ss.length;) {
    const { tag, end } = readField(ss, at);
    if (tag !== spansTag || decisions[span++]) {
      out.set(ss.subarray(at, end), put);
      put += end - at;
    }
    at = end;
  }
  return out;
}

/**
 * Where the trace id of the Span message in `bytes[start, end)` begins: the
 * last trace_id field, as a protobuf decoder takes the last of a repeated
 * scalar (the decoder checked that it is 16 bytes).
 */
function traceIdAt(bytes: Uint8Array, start: number, end: number): number {
  let found = -1;
  for (let at = start; at < end;) {
    const field = readField(bytes, at);
    if (field.tag === traceIdTag) found = field.start;
    at = field.end;
  }
  return found;
}

/**
 * The last field {@linkcode readField} read: its tag, where its payload
 * starts (for a length-delimited field, after the length) and where the
 * field ends. One object, reused: at ~600k spans/s an object per field
 * would keep the GC busy.
 */
const field = { tag: 0, start: 0, end: 0 };

/** Reads the field at `at` into {@linkcode field}. */
function readField(bytes: Uint8Array, at: number): typeof field {
  at = varint(bytes, at);
  const tag = varintValue;
  field.tag = tag;
  switch (tag & 7) {
    case 0:
      at = varint(bytes, at);
      field.start = at;
      field.end = at;
      return field;
    case 1:
      field.start = at;
      field.end = at + 8;
      return field;
    case 2:
      at = varint(bytes, at);
      field.start = at;
      field.end = at + varintValue;
      return field;
    case 5:
      field.start = at;
      field.end = at + 4;
      return field;
    case 3: {
      // A group (valid protobuf for an unknown field): up to its end tag.
      const end = (tag & ~7) | 4;
      const start = at;
      for (;;) {
        const inner = readField(bytes, at);
        at = inner.end;
        if (inner.tag === end) break;
      }
      field.tag = tag;
      field.start = start;
      field.end = at;
      return field;
    }
    default: // 4: an end-group tag, read by the group that contains it.
      field.start = at;
      field.end = at;
      return field;
  }
}

/** The value of the last varint {@linkcode varint} read. */
let varintValue = 0;

/**
 * Reads the varint at `at` (below 2^53) into {@linkcode varintValue};
 * returns the position after it (no array or object per call).
 */
function varint(bytes: Uint8Array, at: number): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  varintValue = value;
  return at;
}
