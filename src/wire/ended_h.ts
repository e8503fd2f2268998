/**
 * The layouts of bpf/ended.h on the TypeScript side, in one place: the ring
 * record header, the SDK's batch header, the per-CPU counters and the config
 * map value, and the limits the probe and the SDK agree on. ended_h_test.ts
 * checks every number here against the C header itself; the probe (maps,
 * record limits) and the decoder (record framing) take them from here.
 *
 * @module
 */

import type { StructLayout } from "./_layout.ts";

/** SB_RECORD_MAGIC: the bytes "SBR1" read as a little-endian u32. */
export const RECORD_MAGIC = 0x31524253;

/** SB_MAX_RECORD_CLASSES: the largest payload the size-class program carries. */
export const MAX_RECORD_CLASSES = 256 << 10;

/** SB_MAX_RECORD_DYNPTR: the largest payload the dynptr program carries. */
export const MAX_RECORD_DYNPTR = 4 << 20;

/** SB_CLASS_MIN: the smallest size class of the size-class program. */
export const CLASS_MIN = 64;

/**
 * SB_BATCH_MAGIC: the bytes "\0SBH" read as a little-endian u32. Its first
 * byte, a protobuf tag of field number 0, cannot begin a valid message.
 */
export const BATCH_MAGIC = 0x48425300;

/** SB_BATCH_VERSION: the batch header version this controller reads. */
export const BATCH_VERSION = 1;

/** SB_SIGNAL_TRACES: an OTLP TracesData follows the batch header. */
export const SIGNAL_TRACES = 1;

/** SB_SIGNAL_LOGS: an OTLP LogsData follows the batch header. */
export const SIGNAL_LOGS = 2;

/** struct sb_record_header: six little-endian u32, then `len` payload bytes. */
export const recordHeader: StructLayout<
  "magic" | "len" | "tgid" | "pid" | "cpu" | "seq"
> = {
  size: 24,
  offsets: { magic: 0, len: 4, tgid: 8, pid: 12, cpu: 16, seq: 20 },
};

/**
 * struct sb_batch_header: the SDK's header at the start of the payload: a
 * u32 magic, a u8 version, a u8 signal, u16 flags and the u64 per-process
 * batch sequence (one for all signals).
 */
export const batchHeader: StructLayout<
  "magic" | "version" | "signal" | "flags" | "seq"
> = {
  size: 16,
  offsets: { magic: 0, version: 4, signal: 5, flags: 6, seq: 8 },
};

/** struct sb_counters: eight u64 per CPU (the last, seq, is not a counter). */
export const counters: StructLayout<
  | "hits"
  | "filtered"
  | "submitted"
  | "bytes"
  | "ring_full"
  | "read_faults"
  | "oversize"
  | "seq"
> = {
  size: 64,
  offsets: {
    hits: 0,
    filtered: 8,
    submitted: 16,
    bytes: 24,
    ring_full: 32,
    read_faults: 40,
    oversize: 48,
    seq: 56,
  },
};

/** struct sb_config: four u32. */
export const config: StructLayout<
  "enabled" | "max_record" | "pid_filter" | "wake_bytes"
> = {
  size: 16,
  offsets: { enabled: 0, max_record: 4, pid_filter: 8, wake_bytes: 12 },
};
