/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The record of bpf/exec.bpf.c: one per exec and per process exit on the
 * host, so the controller learns of new processes without scanning /proc.
 * src/probe/exec_events.ts reads it.
 */
#ifndef SPANBRIDGE_EXEC_H
#define SPANBRIDGE_EXEC_H

#include <linux/types.h>

/* sb_exec_event.kind */
#define SB_EXEC_KIND_EXEC 1
#define SB_EXEC_KIND_EXIT 2

/* One event: 8 bytes, little-endian on the supported targets. */
struct sb_exec_event {
	__u32 tgid; /* the process id, as the initial pid namespace sees it */
	__u32 kind; /* SB_EXEC_KIND_* */
};

/* Ring size: 8192 events of 16 bytes (record header included). */
#define SB_EXEC_RING_BYTES (128 << 10)

#endif
