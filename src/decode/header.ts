/**
 * The ring record header, struct sb_record_header in bpf/ended.h: six
 * little-endian u32 fields, then `len` payload bytes. The numbers come from
 * the one layout module of bpf/ended.h (src/ffi/ended_h.ts).
 *
 * @module
 */

import { endedLayout } from "../ffi/mod.ts";

/** SB_RECORD_MAGIC: the bytes "SBR1" read as a little-endian u32. */
export const RECORD_MAGIC = endedLayout.RECORD_MAGIC;

/** sizeof(struct sb_record_header). */
export const HEADER_SIZE = endedLayout.recordHeader.size;

/** SB_MAX_RECORD_CLASSES: the largest payload the size-class probe carries. */
export const MAX_PAYLOAD_CLASSES = endedLayout.MAX_RECORD_CLASSES;

/** SB_MAX_RECORD_DYNPTR: the largest payload the dynptr probe carries. */
export const MAX_PAYLOAD_DYNPTR = endedLayout.MAX_RECORD_DYNPTR;

/** Byte offset of each header field, in declaration order. */
export const HEADER_OFFSETS = endedLayout.recordHeader.offsets;

/** A decoded struct sb_record_header. */
export interface RecordHeader {
  /** Should equal {@linkcode RECORD_MAGIC}. */
  magic: number;
  /** Payload bytes after the header (the record itself may be padded). */
  len: number;
  /** Process id of the Go program that ended the spans. */
  tgid: number;
  /** Thread id of the caller. */
  pid: number;
  /** CPU the record was made on. */
  cpu: number;
  /** Per-CPU sequence number; a gap means lost records. */
  seq: number;
}

/**
 * Reads the header at the start of `record`, which must hold at least
 * {@linkcode HEADER_SIZE} bytes. Does not validate the fields.
 */
export function readHeader(record: Uint8Array): RecordHeader {
  const view = new DataView(record.buffer, record.byteOffset, HEADER_SIZE);
  const u32 = (offset: number) => view.getUint32(offset, true);
  return {
    magic: u32(HEADER_OFFSETS.magic),
    len: u32(HEADER_OFFSETS.len),
    tgid: u32(HEADER_OFFSETS.tgid),
    pid: u32(HEADER_OFFSETS.pid),
    cpu: u32(HEADER_OFFSETS.cpu),
    seq: u32(HEADER_OFFSETS.seq),
  };
}

/** Writes `header` followed by `payload` as one record, as the probe does. */
export function encodeRecord(
  header:
    & Omit<RecordHeader, "magic" | "len">
    & Partial<Pick<RecordHeader, "magic" | "len">>,
  payload: Uint8Array,
): Uint8Array {
  const record = new Uint8Array(HEADER_SIZE + payload.length);
  const view = new DataView(record.buffer);
  const put = (offset: number, value: number) =>
    view.setUint32(offset, value, true);
  put(HEADER_OFFSETS.magic, header.magic ?? RECORD_MAGIC);
  put(HEADER_OFFSETS.len, header.len ?? payload.length);
  put(HEADER_OFFSETS.tgid, header.tgid);
  put(HEADER_OFFSETS.pid, header.pid);
  put(HEADER_OFFSETS.cpu, header.cpu);
  put(HEADER_OFFSETS.seq, header.seq);
  record.set(payload, HEADER_SIZE);
  return record;
}
