// The contract between bpf/ended.h and the TypeScript side: every struct and
// every limit, read from the C header itself.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  BATCH_MAGIC,
  BATCH_VERSION,
  batchHeader,
  CLASS_MIN,
  config,
  counters,
  MAX_RECORD_CLASSES,
  MAX_RECORD_DYNPTR,
  RECORD_MAGIC,
  recordHeader,
  SIGNAL_LOGS,
  SIGNAL_TRACES,
  type StructLayout,
} from "./ended_h.ts";

const header = Deno.readTextFileSync(
  new URL("../../bpf/ended.h", import.meta.url),
);

/** The value of `#define name <expr>u` with C shifts, as a number. */
function define(name: string): number {
  const m = new RegExp(`#define ${name} \\(?([0-9a-fx]+)u(?: << (\\d+))?\\)?`)
    .exec(header);
  if (!m) throw new Error(`Cannot find #define ${name} in bpf/ended.h`);
  return Number(m[1]) * 2 ** Number(m[2] ?? 0);
}

/** The fields of `struct name` with C's natural alignment (__u8 to __u64 occur). */
function layoutOf(
  name: string,
): { size: number; offsets: Record<string, number> } {
  const body = new RegExp(`struct ${name} \\{([^}]*)\\}`).exec(header)?.[1];
  if (!body) throw new Error(`Cannot find struct ${name} in bpf/ended.h`);
  const offsets: Record<string, number> = {};
  let offset = 0;
  let align = 1;
  for (const [, type, field] of body.matchAll(/__u(8|16|32|64)\s+(\w+);/g)) {
    const size = Number(type) / 8;
    offset = Math.ceil(offset / size) * size;
    offsets[field] = offset;
    offset += size;
    align = Math.max(align, size);
  }
  return { size: Math.ceil(offset / align) * align, offsets };
}

function plain<F extends string>(l: StructLayout<F>) {
  return { size: l.size, offsets: { ...l.offsets } };
}

Deno.test("the limits match the #defines of bpf/ended.h", () => {
  assertEquals(
    [RECORD_MAGIC, MAX_RECORD_CLASSES, MAX_RECORD_DYNPTR, CLASS_MIN],
    [
      define("SB_RECORD_MAGIC"),
      define("SB_MAX_RECORD_CLASSES"),
      define("SB_MAX_RECORD_DYNPTR"),
      define("SB_CLASS_MIN"),
    ],
  );
});

Deno.test("the batch header's #defines match bpf/ended.h", () => {
  assertEquals(
    [BATCH_MAGIC, BATCH_VERSION, SIGNAL_TRACES, SIGNAL_LOGS],
    [
      define("SB_BATCH_MAGIC"),
      define("SB_BATCH_VERSION"),
      define("SB_SIGNAL_TRACES"),
      define("SB_SIGNAL_LOGS"),
    ],
  );
});

Deno.test("struct sb_batch_header matches bpf/ended.h", () => {
  assertEquals(plain(batchHeader), layoutOf("sb_batch_header"));
});

Deno.test("struct sb_record_header matches bpf/ended.h", () => {
  assertEquals(plain(recordHeader), layoutOf("sb_record_header"));
});

Deno.test("struct sb_counters matches bpf/ended.h", () => {
  assertEquals(plain(counters), layoutOf("sb_counters"));
});

Deno.test("struct sb_config matches bpf/ended.h", () => {
  assertEquals(plain(config), layoutOf("sb_config"));
});
