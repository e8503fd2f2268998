/**
 * The ring record header, struct sb_record_header in bpf/ended.h: six
 * little-endian u32 fields, then `len` payload bytes; and the SDK's batch
 * header, struct sb_batch_header, at the start of the payload. The numbers
 * come from the one layout module of bpf/ended.h (src/wire/ended_h.ts).
 *
 * @module
 */

import { endedLayout } from "../wire/mod.ts";

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

/** SB_BATCH_MAGIC: the first four bytes of a payload that starts with a batch header. */
export const BATCH_MAGIC = endedLayout.BATCH_MAGIC;

/** sizeof(struct sb_batch_header). */
export const BATCH_HEADER_SIZE = endedLayout.batchHeader.size;

/** A decoded struct sb_batch_header. */
export interface BatchHeader {
  /** The header's version (SB_BATCH_VERSION is the one this reader knows). */
  version: number;
  /** What follows the header: SB_SIGNAL_TRACES or SB_SIGNAL_LOGS. */
  signal: number;
  /** Flags; none are defined in version 1. */
  flags: number;
  /** The process's batch sequence, from 1. */
  seq: number;
}

/**
 * Reads the batch header at the start of `payload`, or returns undefined
 * when the payload does not begin with {@linkcode BATCH_MAGIC} (a bare
 * TracesData from an SDK older than the header: the magic's first byte,
 * field number 0, cannot begin one). A payload that begins with the magic
 * but is shorter than the header is returned as `"short"`.
 */
export function readBatchHeader(
  payload: Uint8Array,
): BatchHeader | "short" | undefined {
  if (payload.length < 4) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset);
  const at = endedLayout.batchHeader.offsets;
  if (view.getUint32(at.magic, true) !== BATCH_MAGIC) return undefined;
  if (payload.length < BATCH_HEADER_SIZE) return "short";
  return {
    version: view.getUint8(at.version),
    signal: view.getUint8(at.signal),
    flags: view.getUint16(at.flags, true),
    // Exact below 2^53: a process would need millennia of batches to pass it.
    seq: view.getUint32(at.seq, true) +
      view.getUint32(at.seq + 4, true) * 2 ** 32,
  };
}

/** Writes a batch header followed by `message`, as the SDK hands a batch to ended(). */
export function encodeBatch(
  header: Partial<BatchHeader> & Pick<BatchHeader, "seq">,
  message: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(BATCH_HEADER_SIZE + message.length);
  const view = new DataView(out.buffer);
  const at = endedLayout.batchHeader.offsets;
  view.setUint32(at.magic, BATCH_MAGIC, true);
  view.setUint8(at.version, header.version ?? endedLayout.BATCH_VERSION);
  view.setUint8(at.signal, header.signal ?? endedLayout.SIGNAL_TRACES);
  view.setUint16(at.flags, header.flags ?? 0, true);
  view.setUint32(at.seq, header.seq % 2 ** 32, true);
  view.setUint32(at.seq + 4, Math.floor(header.seq / 2 ** 32), true);
  out.set(message, BATCH_HEADER_SIZE);
  return out;
}
