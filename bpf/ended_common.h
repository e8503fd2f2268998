/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What both programs share: the maps, where ended()'s arguments are, the
 * filters, the per-CPU sequence and the lazy wake-up decision.
 *
 * Probed function (Go SDK, go/sdk/internal/handoff):
 *     func ended(batch []byte)   // ABI0 assembly
 * At its first instruction the arguments are on the stack, on amd64 and arm64
 * alike: the data pointer at SP+8, the length at SP+16 (the capacity at SP+24
 * is not used). SP is pt_regs.rsp on x86_64 and user_pt_regs.sp on arm64.
 */
#ifndef SPANBRIDGE_ENDED_COMMON_H
#define SPANBRIDGE_ENDED_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ended.h"

/* The UAPI register layouts a uprobe program receives, written out here so
 * both architectures build on any host (the arm64 asm headers are rarely
 * installed on x86_64 machines). */
#if defined(__TARGET_ARCH_x86)
struct sb_regs {
	__u64 r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	__u64 rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};
#define SB_REGS_SP(regs) ((regs)->rsp)
#elif defined(__TARGET_ARCH_arm64)
struct sb_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
#define SB_REGS_SP(regs) ((regs)->sp)
#else
#error "define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64"
#endif

/* Not the ring's size: the controller always creates the ring itself
 * (bpftool map create, size from --ring-size, default in src/probe/mod.ts)
 * and has it reused at load. This entry count only applies to a load that
 * skips that step. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sb_counters);
} sb_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sb_config);
} sb_config SEC(".maps");

/* tgids to record when sb_config.pid_filter is 1 (value unused). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} sb_pids SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

/* One batch about to be recorded. */
struct sb_batch {
	__u64 addr;
	__u64 len;
	struct sb_counters *cnt;
	const struct sb_config *cfg;
	struct sb_record_header hdr;
};

/* Fills b from the caller's stack pointer and the maps. Returns 0 when the
 * batch should be recorded, -1 when it was counted and dropped. */
static __always_inline int sb_begin(struct sb_batch *b, __u64 sp)
{
	__u32 zero = 0;
	__u64 args[2];

	b->cnt = bpf_map_lookup_elem(&sb_counters, &zero);
	b->cfg = bpf_map_lookup_elem(&sb_config, &zero);
	if (!b->cnt || !b->cfg)
		return -1;
	__sync_fetch_and_add(&b->cnt->hits, 1);

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (!b->cfg->enabled ||
	    (b->cfg->pid_filter && !bpf_map_lookup_elem(&sb_pids, &tgid))) {
		__sync_fetch_and_add(&b->cnt->filtered, 1);
		return -1;
	}

#ifdef SB_ATOMIC_FETCH
	__u32 seq = __sync_fetch_and_add(&b->cnt->seq, 1);
#else
	/* No fetch-and-add before 5.12: see the seq note in ended.h. */
	__u32 seq = b->cnt->seq;
	__sync_fetch_and_add(&b->cnt->seq, 1);
#endif

	if (bpf_probe_read_user(args, sizeof(args), (void *)(sp + 8))) {
		__sync_fetch_and_add(&b->cnt->read_faults, 1);
		return -1;
	}
	b->addr = args[0];
	b->len = args[1];
	if (b->len > b->cfg->max_record) {
		__sync_fetch_and_add(&b->cnt->oversize, 1);
		return -1;
	}

	b->hdr.magic = SB_RECORD_MAGIC;
	b->hdr.len = b->len;
	b->hdr.tgid = tgid;
	b->hdr.pid = (__u32)pid_tgid;
	b->hdr.cpu = bpf_get_smp_processor_id();
	b->hdr.seq = seq;
	return 0;
}

/* Submit flags: no wake-up unless enough data waits (the reader also wakes
 * on its own short timeout), which spares a reader wake-up per batch. Call
 * after reserving, so the waiting data includes this record. */
static __always_inline __u64 sb_wake_flags(const struct sb_batch *b)
{
	__u64 waiting = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);
	return waiting >= b->cfg->wake_bytes ? BPF_RB_FORCE_WAKEUP
					     : BPF_RB_NO_WAKEUP;
}

static __always_inline void sb_count_submitted(const struct sb_batch *b)
{
	__sync_fetch_and_add(&b->cnt->submitted, 1);
	__sync_fetch_and_add(&b->cnt->bytes, b->len);
}

/* Records the batch whose arguments are at sp; each program defines it. */
static __always_inline int sb_emit(__u64 sp);

/* Declares the program. The real probe is a uprobe on ended(); the SB_TEST
 * build (ended_*_test.bpf.c) makes it a BPF_PROG_TEST_RUN-able syscall
 * program that takes the registers from its context and emits `count`
 * records, so tests and benchmarks can drive the same code without a trap. */
#ifndef SB_TEST
#define SB_PROGRAM(name)                                                 \
	SEC("uprobe")                                                    \
	int name(struct sb_regs *regs)                                   \
	{                                                                \
		return sb_emit(SB_REGS_SP(regs));                        \
	}
#else
/* BPF_PROG_TEST_RUN context of the test build. */
struct sb_test_ctx {
	__u64 count;
	struct sb_regs regs;
};

struct sb_test_loop {
	__u64 sp;
};

static long sb_test_step(__u32 i, struct sb_test_loop *l)
{
	sb_emit(l->sp);
	return 0;
}

#define SB_PROGRAM(name)                                                 \
	SEC("syscall")                                                   \
	int name(struct sb_test_ctx *ctx)                                \
	{                                                                \
		struct sb_test_loop l = {.sp = SB_REGS_SP(&ctx->regs)};  \
		bpf_loop(ctx->count, sb_test_step, &l, 0);               \
		return 0;                                                \
	}
#endif

#endif /* SPANBRIDGE_ENDED_COMMON_H */
