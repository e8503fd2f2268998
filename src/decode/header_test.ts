import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  encodeRecord,
  HEADER_OFFSETS,
  HEADER_SIZE,
  MAX_PAYLOAD_CLASSES,
  MAX_PAYLOAD_DYNPTR,
  readHeader,
  RECORD_MAGIC,
} from "./header.ts";

const endedH = await Deno.readTextFile(
  new URL("../../bpf/ended.h", import.meta.url),
);

const typeSizes: Record<string, number> = {
  __u8: 1,
  __u16: 2,
  __u32: 4,
  __u64: 8,
};

/** Evaluates a #define made of a hex or decimal literal, optionally "(N << M)". */
function define(name: string): number {
  const m = endedH.match(
    new RegExp(`#define\\s+${name}\\s+(.+?)\\s*(?:/\\*|$)`, "m"),
  );
  if (!m) throw new Error(`Cannot find #define ${name} in bpf/ended.h`);
  const literal = (s: string) => Number(s.replace(/u$/i, ""));
  const shift = m[1].match(/^\(\s*(\w+)\s*<<\s*(\w+)\s*\)$/);
  return shift ? literal(shift[1]) * 2 ** literal(shift[2]) : literal(m[1]);
}

/** Parses struct sb_record_header into field offsets, honouring natural alignment. */
function structLayout(): { offsets: Record<string, number>; size: number } {
  const body = endedH.match(/struct\s+sb_record_header\s*\{([^}]*)\}/);
  if (!body) {
    throw new Error("Cannot find struct sb_record_header in bpf/ended.h");
  }
  const offsets: Record<string, number> = {};
  let offset = 0;
  let align = 1;
  for (const [, type, name] of body[1].matchAll(/^\s*(\w+)\s+(\w+)\s*;/gm)) {
    const size = typeSizes[type];
    if (size === undefined) {
      throw new Error(`Unexpected field type ${type} in sb_record_header`);
    }
    offset = Math.ceil(offset / size) * size;
    offsets[name] = offset;
    offset += size;
    align = Math.max(align, size);
  }
  return { offsets, size: Math.ceil(offset / align) * align };
}

Deno.test("header constants match bpf/ended.h", () => {
  strictEqual(RECORD_MAGIC, define("SB_RECORD_MAGIC"));
  strictEqual(MAX_PAYLOAD_CLASSES, define("SB_MAX_RECORD_CLASSES"));
  strictEqual(MAX_PAYLOAD_DYNPTR, define("SB_MAX_RECORD_DYNPTR"));
  const magicBytes = new Uint8Array(new Uint32Array([RECORD_MAGIC]).buffer);
  strictEqual(new TextDecoder().decode(magicBytes), "SBR1");
});

Deno.test("header field offsets match struct sb_record_header", () => {
  const { offsets, size } = structLayout();
  deepStrictEqual(offsets, { ...HEADER_OFFSETS });
  strictEqual(size, HEADER_SIZE);
});

Deno.test("readHeader reads what encodeRecord wrote, little-endian", () => {
  const record = encodeRecord({
    tgid: 4242,
    pid: 4243,
    cpu: 1,
    seq: 0xfffffffe,
  }, new Uint8Array([9, 8]));
  deepStrictEqual(readHeader(record), {
    magic: RECORD_MAGIC,
    len: 2,
    tgid: 4242,
    pid: 4243,
    cpu: 1,
    seq: 0xfffffffe,
  });
  deepStrictEqual([...record.subarray(0, 4)], [0x53, 0x42, 0x52, 0x31]);
  deepStrictEqual([...record.subarray(HEADER_SIZE)], [9, 8]);
});
