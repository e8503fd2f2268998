// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The exact-size probe (kernels 6.16+): one ring record of exactly
 * sizeof(header) + len bytes per ended() call, reserved with
 * bpf_ringbuf_reserve_dynptr and filled straight from the caller's memory by
 * the bpf_probe_read_user_dynptr kfunc. No scratch buffer is involved.
 */
#define SB_ATOMIC_FETCH 1
#include "ended_common.h"

extern int bpf_probe_read_user_dynptr(struct bpf_dynptr *dptr, __u32 off,
				      __u32 size,
				      const void *unsafe_ptr__ign) __ksym;

static __always_inline int sb_emit(__u64 sp)
{
	struct sb_batch b;
	struct bpf_dynptr rec;

	if (sb_begin(&b, sp))
		return 0;
	/* max_record <= SB_MAX_RECORD_DYNPTR is enforced by the controller;
	 * this bound keeps the size arithmetic obviously in range. */
	if (b.len > SB_MAX_RECORD_DYNPTR) {
		__sync_fetch_and_add(&b.cnt->oversize, 1);
		return 0;
	}
	__u32 size = sizeof(b.hdr) + (__u32)b.len;
	if (bpf_ringbuf_reserve_dynptr(&rb, size, 0, &rec)) {
		/* A failed reserve still has to be released. */
		bpf_ringbuf_discard_dynptr(&rec, 0);
		__sync_fetch_and_add(&b.cnt->ring_full, 1);
		return 0;
	}
	if (bpf_dynptr_write(&rec, 0, &b.hdr, sizeof(b.hdr), 0) ||
	    (b.len && bpf_probe_read_user_dynptr(&rec, sizeof(b.hdr),
						 (__u32)b.len,
						 (void *)b.addr))) {
		bpf_ringbuf_discard_dynptr(&rec, 0);
		__sync_fetch_and_add(&b.cnt->read_faults, 1);
		return 0;
	}
	bpf_ringbuf_submit_dynptr(&rec, sb_wake_flags(&b));
	sb_count_submitted(&b);
	return 0;
}

SB_PROGRAM(ended_dynptr)
