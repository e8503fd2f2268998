// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Process events for `spanbridge run --all`: the tgid of every process that
 * executes a program (raw tracepoint sched_process_exec, after the new image
 * is in place) and of every process whose main thread exits
 * (sched_process_exit). The controller looks at /proc/<tgid> for each; it
 * never needs a periodic scan of /proc to find new processes.
 *
 * Attached with BPF_RAW_TRACEPOINT_OPEN (no pin: the events stop with the
 * controller); needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "exec.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SB_EXEC_RING_BYTES);
} exec_events SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

static __always_inline int sb_send(__u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sb_exec_event *e;

	/* Threads other than the main one come and go inside a process. */
	if (kind == SB_EXEC_KIND_EXIT && (__u32)id != (__u32)(id >> 32))
		return 0;
	e = bpf_ringbuf_reserve(&exec_events, sizeof(*e), 0);
	if (!e)
		return 0; /* full: the controller's slow /proc rescan catches up */
	e->tgid = id >> 32;
	e->kind = kind;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int sb_exec(void *ctx)
{
	return sb_send(SB_EXEC_KIND_EXEC);
}

SEC("raw_tracepoint/sched_process_exit")
int sb_exit(void *ctx)
{
	return sb_send(SB_EXEC_KIND_EXIT);
}
