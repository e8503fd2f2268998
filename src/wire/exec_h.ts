/**
 * The layouts of bpf/exec.h on the TypeScript side, in one place: the event
 * record of bpf/exec.bpf.c and the binary identity that is both part of it
 * and the key of its exec_no_sdk map. exec_h_test.ts checks every number
 * here against the C header itself; the probe's exec-event reader
 * (src/probe/exec_events.ts) takes them from here.
 *
 * @module
 */

import type { StructLayout } from "./_layout.ts";

/** SB_EXEC_KIND_EXEC: the process now runs a new program. */
export const KIND_EXEC = 1;

/** SB_EXEC_KIND_EXIT: the process's last thread exited. */
export const KIND_EXIT = 2;

/** SB_EXEC_RING_BYTES: the exec event ring's size unless the controller sets another. */
export const RING_BYTES = 256 << 10;

/**
 * struct sb_exec_binary: an executable's identity (u64 inode number, s64 and
 * u32 change time, u32 device, u32 generation, u32 padding that is always 0).
 */
export const binary: StructLayout<
  "ino" | "ctime_sec" | "ctime_nsec" | "dev" | "generation" | "zero"
> = {
  size: 32,
  offsets: {
    ino: 0,
    ctime_sec: 8,
    ctime_nsec: 16,
    dev: 20,
    generation: 24,
    zero: 28,
  },
};

/**
 * struct sb_exec_event: four u32 (tgid, kind, ppid, path_len), a struct
 * sb_exec_binary, the u64 file size and the path (SB_EXEC_PATH_MAX bytes at
 * most). An exit record holds only tgid and kind; an exec record ends after
 * the path's NUL, so it is shorter than `size`.
 */
export const event: StructLayout<
  "tgid" | "kind" | "ppid" | "path_len" | "binary" | "size" | "path"
> = {
  size: 312,
  offsets: {
    tgid: 0,
    kind: 4,
    ppid: 8,
    path_len: 12,
    binary: 16,
    size: 48,
    path: 56,
  },
};
