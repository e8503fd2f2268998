/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The wire format between the probe (bpf/ended.bpf.c), the controller's
 * decoder (src/decode) and the Go SDK (go/sdk). Every field is little-endian
 * on the machines we run on (x86_64, arm64).
 *
 * The Go SDK calls `ended(batch []byte)` (an ABI0 assembly function: pointer at
 * SP+8, length at SP+16 at entry) once per batch. The probe copies the batch
 * into one ring buffer record: a struct sb_record_header followed by `len`
 * payload bytes. The payload is an OTLP `TracesData` protobuf message.
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

#endif /* SPANBRIDGE_ENDED_H */
