// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Process events for `spanbridge run --all`, filtered in the kernel so that
 * the controller is woken only when it has something to decide.
 *
 * sched_process_exec (after the new image is in place): the executable's
 * identity (struct sb_exec_binary) is looked up in exec_no_sdk, where the
 * controller puts the binaries it read and found without the probe point.
 * A hit is dropped, unless the process is one the controller watches (it
 * then learns that the process runs something else now). Any other exec is
 * reported, with the identity and the path given to execve, and its tgid is
 * added to exec_watched so that its exit is reported even if the process is
 * gone before the controller looks at it.
 *
 * sched_process_exit: reported once per process, when its last thread
 * exits, and only for a tgid in exec_watched (which it removes). The
 * controller removes the processes it ruled out and adds the ones it found
 * by scanning /proc.
 *
 * A binary is only ever skipped for the exact identity the controller
 * wrote: a file rewritten in place gets a new change time, a new file on a
 * reused inode a new generation, and both are reported again.
 *
 * Attached with BPF_RAW_TRACEPOINT_OPEN (no pin: the events stop with the
 * controller); needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN). The kernel
 * structures are read with CO-RE, so one object serves every kernel with
 * BTF.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "exec.h"

/* The fields read here; CO-RE finds them in the running kernel. */
struct super_block {
	__u32 s_dev;
} __attribute__((preserve_access_index));

struct timespec64 {
	__s64 tv_sec;
	long tv_nsec;
} __attribute__((preserve_access_index));

/* 6.11 and later: the change time in two fields. */
struct inode {
	unsigned long i_ino;
	__s64 i_size;
	struct super_block *i_sb;
	__u32 i_generation;
	__s64 i_ctime_sec;
	__u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

/* 6.6 to 6.10. */
struct inode___v66 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

/* Before 6.6. */
struct inode___v0 {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct signal_struct {
	struct {
		int counter;
	} live; /* threads not yet exiting */
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
	struct mm_struct *mm;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *interp;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SB_EXEC_RING_BYTES);
} exec_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SB_EXEC_NO_SDK_ENTRIES);
	__type(key, struct sb_exec_binary);
	__type(value, __u8);
} exec_no_sdk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SB_EXEC_WATCHED_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u8);
} exec_watched SEC(".maps");

/*
 * Events the ring had no room for (key 0): the controller reads it, warns
 * and rescans /proc to catch up. A plain array and __sync_fetch_and_add on
 * its value (BPF_XADD) load on every kernel since 5.8, the ring's first.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} exec_lost SEC(".maps");

/* An exec event is built here: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sb_exec_event);
} exec_scratch SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

/* Counts one event lost for want of room in the ring. */
static __always_inline void sb_count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&exec_lost, &zero);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/*
 * Fills `b` with the identity of the file `task` executes and `size` with
 * its size; 0s if unreadable.
 */
static __always_inline void sb_read_binary(struct task_struct *task,
					   struct sb_exec_binary *b,
					   __u64 *size)
{
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);

	if (!inode)
		return;
	b->ino = BPF_CORE_READ(inode, i_ino);
	b->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	b->generation = BPF_CORE_READ(inode, i_generation);
	*size = BPF_CORE_READ(inode, i_size);
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		b->ctime_sec = BPF_CORE_READ(inode, i_ctime_sec);
		/*
		 * 6.13 and later keep a flag in the top bit (I_CTIME_QUERIED:
		 * the next change gets a fine-grained time); it is no part of
		 * the time.
		 */
		b->ctime_nsec = BPF_CORE_READ(inode, i_ctime_nsec) & 0x7fffffff;
	} else if (bpf_core_field_exists(struct inode___v66, __i_ctime)) {
		struct inode___v66 *i = (void *)inode;

		b->ctime_sec = BPF_CORE_READ(i, __i_ctime.tv_sec);
		b->ctime_nsec = BPF_CORE_READ(i, __i_ctime.tv_nsec);
	} else {
		struct inode___v0 *i = (void *)inode;

		b->ctime_sec = BPF_CORE_READ(i, i_ctime.tv_sec);
		b->ctime_nsec = BPF_CORE_READ(i, i_ctime.tv_nsec);
	}
}

SEC("raw_tracepoint/sched_process_exec")
int sb_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (void *)ctx->args[0];
	struct linux_binprm *bprm = (void *)ctx->args[2];
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 zero = 0;
	__u8 one = 1;
	struct sb_exec_event *e = bpf_map_lookup_elem(&exec_scratch, &zero);
	const char *interp;
	long n;
	__u32 size;

	if (!e)
		return 0;
	__builtin_memset(&e->binary, 0, sizeof(e->binary));
	e->size = 0;
	sb_read_binary(task, &e->binary, &e->size);
	if (e->binary.ino != 0 &&
	    bpf_map_lookup_elem(&exec_no_sdk, &e->binary) &&
	    !bpf_map_lookup_elem(&exec_watched, &tgid))
		return 0; /* ruled out, and nobody waits for this process */
	/* A full map only costs the exit of this process: the rescan finds it. */
	bpf_map_update_elem(&exec_watched, &tgid, &one, BPF_ANY);
	e->tgid = tgid;
	e->kind = SB_EXEC_KIND_EXEC;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	interp = BPF_CORE_READ(bprm, interp);
	n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), interp);
	e->path_len = n > 0 ? n : 0;
	size = __builtin_offsetof(struct sb_exec_event, path) + e->path_len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	/* Full: counted; the controller rescans /proc to catch up. */
	if (bpf_ringbuf_output(&exec_events, e, size, 0) != 0)
		sb_count_lost();
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int sb_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sb_exec_event *e;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads of the process still run */
	/* Deleting tells whether it was watched, and reports it once. */
	if (bpf_map_delete_elem(&exec_watched, &tgid) != 0)
		return 0;
	e = bpf_ringbuf_reserve(&exec_events, 8, 0);
	if (!e) {
		sb_count_lost();
		return 0;
	}
	e->tgid = tgid;
	e->kind = SB_EXEC_KIND_EXIT;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
