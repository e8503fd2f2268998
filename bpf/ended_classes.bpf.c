// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The size-class probe (kernels 5.8+): bpf_ringbuf_reserve needs a constant
 * size, so a batch goes into the smallest power-of-two class that holds it
 * (SB_CLASS_MIN .. SB_MAX_RECORD_CLASSES) and the header's len says how many
 * payload bytes are real. The caller's memory is read straight into the
 * reserved record: no scratch buffer is involved.
 */
#include "ended_common.h"

/* Records one batch into a class of `class` payload bytes; `class` is a
 * compile-time constant after inlining, as bpf_ringbuf_reserve requires. */
static __always_inline void sb_emit_class(struct sb_batch *b,
					  const __u32 class)
{
	struct sb_record_header *rec;
	/* 1 <= len <= class here, but the verifier must see it on the size
	 * register itself. A compare is not enough on every kernel: clang
	 * emits it on the 32-bit subregister, and the 5.10 and 6.1 verifiers
	 * then lose the 64-bit lower bound ("R2 min value is negative"). A
	 * 64-bit AND with a constant bounds the register on every kernel from
	 * 5.8, and for 1 <= len <= class (a power of two) it changes nothing.
	 * The empty asm hides from clang what it knows of len, or it would see
	 * that and drop the AND. */
	__u64 len = b->len - 1;

	asm volatile("" : "+r"(len));
	len = (len & (class - 1)) + 1;

	rec = bpf_ringbuf_reserve(&rb, sizeof(*rec) + class, 0);
	if (!rec) {
		__sync_fetch_and_add(&b->cnt->ring_full, 1);
		return;
	}
	*rec = b->hdr;
	if (b->len && bpf_probe_read_user(rec + 1, len, (void *)b->addr)) {
		bpf_ringbuf_discard(rec, 0);
		__sync_fetch_and_add(&b->cnt->read_faults, 1);
		return;
	}
	bpf_ringbuf_submit(rec, sb_wake_flags(b));
	sb_count_submitted(b);
}

#define SB_CLASS(class)                                                  \
	if (b.len <= (class)) {                                          \
		sb_emit_class(&b, (class));                              \
		return 0;                                                \
	}

static __always_inline int sb_emit(__u64 sp)
{
	struct sb_batch b;

	if (sb_begin(&b, sp))
		return 0;
	SB_CLASS(SB_CLASS_MIN)
	SB_CLASS(128)
	SB_CLASS(256)
	SB_CLASS(512)
	SB_CLASS(1 << 10)
	SB_CLASS(2 << 10)
	SB_CLASS(4 << 10)
	SB_CLASS(8 << 10)
	SB_CLASS(16 << 10)
	SB_CLASS(32 << 10)
	SB_CLASS(64 << 10)
	SB_CLASS(128 << 10)
	SB_CLASS(SB_MAX_RECORD_CLASSES)
	__sync_fetch_and_add(&b.cnt->oversize, 1);
	return 0;
}

SB_PROGRAM(ended_classes)
