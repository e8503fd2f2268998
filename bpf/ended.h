/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The wire format between the probes (bpf/ended_dynptr.bpf.c,
 * bpf/ended_classes.bpf.c), the controller (src/wire/ended_h.ts, the one
 * TypeScript layout of this file) and the Go SDK (go/sdk). Every field is little-endian
 * on the machines we run on (x86_64, arm64).
 *
 * The Go SDK calls `ended(batch []byte)` (an ABI0 assembly function: pointer at
 * SP+8, length at SP+16 at entry) once per batch. The probe copies the batch
 * into one ring buffer record: a struct sb_record_header followed by `len`
 * payload bytes, copied unchanged. The SDK's payload is a struct
 * sb_batch_header followed by an OTLP `TracesData` or `LogsData` protobuf
 * message, as the header's signal says (an SDK older than the batch header
 * sends a `TracesData` alone; one older than logs sends traces only).
 */
#ifndef SPANBRIDGE_ENDED_H
#define SPANBRIDGE_ENDED_H

#define SB_RECORD_MAGIC 0x31524253u /* "SBR1" read as little-endian bytes */

/* The largest batch the size-class program carries (kernels 5.8+). The Go SDK
 * never hands over a larger batch unless told the dynptr program is in use. */
#define SB_MAX_RECORD_CLASSES (256u << 10)
/* The largest batch the dynptr program carries (kernels 6.16+). */
#define SB_MAX_RECORD_DYNPTR (4u << 20)

struct sb_record_header {
	__u32 magic; /* SB_RECORD_MAGIC */
	__u32 len;   /* payload bytes that follow this header */
	__u32 tgid;  /* process id of the caller */
	__u32 pid;   /* thread id of the caller */
	__u32 cpu;   /* CPU the record was made on */
	__u32 seq;   /* per-CPU record sequence: a gap means records were lost */
};

/*
 * Record framing notes for readers:
 * - The dynptr program reserves exactly sizeof(header) + len bytes. The
 *   size-class program reserves sizeof(header) + the smallest class (a power
 *   of two from SB_CLASS_MIN to SB_MAX_RECORD_CLASSES) that holds len, so its
 *   ring records can be longer than the header says: the payload is always
 *   the first `len` bytes after the header, the rest is padding.
 * - seq is taken per CPU for every batch that passes the filters, before the
 *   record is reserved, so a batch dropped for any reason (ring full, read
 *   fault, oversize) leaves a gap. On kernels that can preempt a uprobe
 *   program (6.x), two records of one CPU may arrive out of seq order; the
 *   size-class program (which avoids atomic fetch for 5.8-5.11 kernels) may
 *   rarely give two records the same seq then.
 */

/*
 * The SDK's batch header: the first bytes of every batch the SDK hands to
 * ended(), written by the SDK and copied by the probes like the rest of the
 * payload. The probe's seq above is per CPU and cannot say whose batches were
 * lost; this seq is per process, so a gap between two batches of one process
 * is that process's loss.
 *
 * - magic: its first byte is 0, which as a protobuf tag is field number 0,
 *   which no valid message can begin with: a reader tells a headed batch
 *   from a bare TracesData (an older SDK) by it, and never mistakes one for
 *   the other.
 * - version: SB_BATCH_VERSION; a reader refuses versions it does not know
 *   (the header's size and meaning come with the version).
 * - signal: what follows the header (SB_SIGNAL_*). A reader that does not
 *   know a signal counts the batch as corrupt under a reason of its own and
 *   still takes its seq into account.
 * - flags: none defined in version 1 (0). A flag a reader does not know may
 *   be ignored; a change a reader must understand takes a new version.
 * - seq: the process's batch sequence, 1 for its first batch, one more for
 *   each later batch of any signal: ONE counter per process shared by
 *   traces and logs (and every provider), so a gap is a lost batch of that
 *   process whatever its signal, and a reader keeps one sequence state per
 *   process, not per signal. It is taken just before ended() is called, so
 *   batches of concurrent goroutines (of either signal) may reach the ring
 *   a few places out of order.
 */
#define SB_BATCH_MAGIC 0x48425300u /* "\0SBH" read as little-endian bytes */
#define SB_BATCH_VERSION 1u
#define SB_SIGNAL_TRACES 1u /* an OTLP TracesData message follows */
#define SB_SIGNAL_LOGS 2u   /* an OTLP LogsData message follows */

struct sb_batch_header {
	__u32 magic;  /* SB_BATCH_MAGIC */
	__u8 version; /* SB_BATCH_VERSION */
	__u8 signal;  /* SB_SIGNAL_* */
	__u16 flags;  /* 0 in version 1 */
	__u64 seq;    /* per-process batch sequence, from 1 */
};

/* The smallest size class of the size-class program. */
#define SB_CLASS_MIN 64u

/* Per-CPU counters (map sb_counters, a one-entry PERCPU_ARRAY). The controller
 * sums them over CPUs. Every field is a count since the probe was loaded. */
struct sb_counters {
	__u64 hits;        /* calls of ended() seen by the probe */
	__u64 filtered;    /* calls dropped because disabled or pid not traced */
	__u64 submitted;   /* records submitted to the ring */
	__u64 bytes;       /* payload bytes in submitted records */
	__u64 ring_full;   /* batches dropped: no room in the ring */
	__u64 read_faults; /* batches dropped: reading the caller's memory failed */
	__u64 oversize;    /* batches dropped: longer than sb_config.max_record */
	__u64 seq;         /* next record sequence on this CPU (not a counter) */
};

/* Configuration written by the controller (map sb_config, a one-entry
 * ARRAY). All zero (the state right after loading) records nothing. */
struct sb_config {
	__u32 enabled;    /* 0: count hits only */
	__u32 max_record; /* largest payload recorded, bytes */
	__u32 pid_filter; /* 1: record only tgids present in map sb_pids */
	__u32 wake_bytes; /* wake the reader once this much data waits */
};

#endif /* SPANBRIDGE_ENDED_H */
