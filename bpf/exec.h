/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The records and maps of bpf/exec.bpf.c: one record per exec of a binary
 * the controller has not ruled out and per exit of a process it watches, so
 * that it learns of new processes without scanning /proc and is not woken by
 * the programs of the rest of the host. src/wire/exec_h.ts is their one
 * TypeScript layout; src/probe/exec_events.ts reads them.
 */
#ifndef SPANBRIDGE_EXEC_H
#define SPANBRIDGE_EXEC_H

#include <linux/types.h>

/* sb_exec_event.kind */
#define SB_EXEC_KIND_EXEC 1
#define SB_EXEC_KIND_EXIT 2

/*
 * The identity of an executable file as the kernel sees it: device, inode
 * number and generation (an inode number reused by a new file gets another
 * generation on the common file systems), and the inode's change time (any
 * write, truncate or attribute change moves it on, and it never moves back).
 * 32 bytes; it is the key of the exec_no_sdk map.
 */
struct sb_exec_binary {
	__u64 ino;
	__s64 ctime_sec;
	__u32 ctime_nsec;
	__u32 dev; /* the kernel's dev_t: major << 20 | minor */
	__u32 generation;
	__u32 zero; /* padding, always 0 */
};

/* Longest path sent with an exec (the rest is cut). */
#define SB_EXEC_PATH_MAX 256

/*
 * One event, little-endian on the supported targets. An exit carries only
 * tgid and kind; an exec carries the rest, and the record ends after the
 * path's terminating NUL.
 */
struct sb_exec_event {
	__u32 tgid; /* the process id, as the initial pid namespace sees it */
	__u32 kind; /* SB_EXEC_KIND_* */
	__u32 ppid; /* the parent's process id */
	__u32 path_len; /* bytes of path, its NUL included; 0 when unread */
	struct sb_exec_binary binary; /* all 0 when it could not be read */
	/*
	 * The file's size in bytes (0 when unread): a free first guess at
	 * whether it can hold the SDK, so that a storm of small programs
	 * does not delay the look at an SDK-linked one.
	 */
	__u64 size;
	/* The program's path as given to execve (the interpreter's for a script). */
	char path[SB_EXEC_PATH_MAX];
};

/* Ring size: ~2700 exec records with a 32-byte path (96 bytes each). */
#define SB_EXEC_RING_BYTES (256 << 10)

/* Binaries known to lack the probe point (LRU: the least used go first). */
#define SB_EXEC_NO_SDK_ENTRIES 8192

/* Processes whose exit is reported (a full map reports no more new ones). */
#define SB_EXEC_WATCHED_ENTRIES 32768

#endif
