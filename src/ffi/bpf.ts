/**
 * Typed wrappers over the libbpf calls the probe needs: pinned objects,
 * links, map elements and BPF_PROG_TEST_RUN. libbpf 1.x returns -errno.
 *
 * @module
 */

import { bpfLib, cLib } from "./_lib.ts";
import { privilegeHint, SysError } from "./errors.ts";

const encoder = new TextEncoder();

/** A NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(s.length * 3 + 1);
  const { written } = encoder.encodeInto(s, bytes);
  return bytes.subarray(0, written + 1);
}

function check(call: string, what: string, ret: number, hint?: string): number {
  if (ret < 0) {
    throw new SysError(call, what, -ret, hint ?? privilegeHint(-ret));
  }
  return ret;
}

/** Opens a pinned BPF object (program, map or link) and returns its fd. */
export function objGet(path: string): number {
  return check(
    "bpf_obj_get",
    `Cannot open the pinned BPF object ${path}`,
    bpfLib().bpf_obj_get(cString(path)),
  );
}

/** Pins a BPF object fd at `path` on bpffs. */
export function objPin(fd: number, path: string): void {
  check(
    "bpf_obj_pin",
    `Cannot pin BPF object at ${path}`,
    bpfLib().bpf_obj_pin(fd, cString(path)),
  );
}

/** BPF_PERF_EVENT in enum bpf_attach_type. */
const BPF_PERF_EVENT = 41;

/**
 * Links a kprobe/uprobe program to a perf event fd; returns the link fd.
 * Kernels before 5.15 have no such link: they refuse it with EINVAL (see
 * {@linkcode perfLinkMissing}).
 */
export function linkPerfEvent(
  progFd: number,
  perfFd: number,
  what: string,
): number {
  return check(
    "bpf_link_create",
    `Cannot attach the probe to ${what}`,
    bpfLib().bpf_link_create(progFd, perfFd, BPF_PERF_EVENT, null),
  );
}

/**
 * True when `e` is bpf_link_create's refusal by a kernel that has no BPF
 * link for perf events (before 5.15: the attach type is unknown, EINVAL).
 */
export function perfLinkMissing(e: unknown): boolean {
  return e instanceof SysError && e.call === "bpf_link_create" &&
    e.errno === 22;
}

/** Closes a file descriptor, ignoring errors (it is ours and open). */
export function closeFd(fd: number): void {
  if (fd >= 0) cLib().close(fd);
}

/** Number of possible CPUs: the value count of a PERCPU map lookup. */
export function possibleCpus(): number {
  return check(
    "libbpf_num_possible_cpus",
    "Cannot count CPUs",
    bpfLib().libbpf_num_possible_cpus(),
  );
}

/** BPF_MAP_TYPE_RINGBUF in enum bpf_map_type. */
const BPF_MAP_TYPE_RINGBUF = 27;

/**
 * True when the kernel can create a BPF ring buffer (5.8+, or a kernel it
 * was backported to): libbpf creates a small one and tells.
 */
export function hasRingBuffer(): boolean {
  return check(
    "libbpf_probe_bpf_map_type",
    "Cannot probe the kernel for BPF ring buffers",
    bpfLib().libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, null),
  ) === 1;
}

/** Looks up `key` into `value`; returns false when the key is absent. */
export function mapLookup(
  fd: number,
  key: Uint8Array<ArrayBuffer>,
  value: Uint8Array<ArrayBuffer>,
): boolean {
  const ret = bpfLib().bpf_map_lookup_elem(fd, key, value);
  if (ret === -2) return false;
  check("bpf_map_lookup_elem", "Cannot read a BPF map", ret);
  return true;
}

/** Creates or replaces the element `key`. */
export function mapUpdate(
  fd: number,
  key: Uint8Array<ArrayBuffer>,
  value: Uint8Array<ArrayBuffer>,
): void {
  check(
    "bpf_map_update_elem",
    "Cannot write a BPF map",
    bpfLib().bpf_map_update_elem(fd, key, value, 0n),
  );
}

/** Deletes `key`; returns false when it was absent. */
export function mapDelete(fd: number, key: Uint8Array<ArrayBuffer>): boolean {
  const ret = bpfLib().bpf_map_delete_elem(fd, key);
  if (ret === -2) return false;
  check("bpf_map_delete_elem", "Cannot delete from a BPF map", ret);
  return true;
}

/** All keys of a hash map, each `keySize` bytes. */
export function mapKeys(fd: number, keySize: number): Uint8Array[] {
  const keys: Uint8Array[] = [];
  let prev: Uint8Array<ArrayBuffer> | null = null;
  for (;;) {
    const next = new Uint8Array(keySize);
    const ret = bpfLib().bpf_map_get_next_key(fd, prev, next);
    if (ret === -2) return keys;
    check("bpf_map_get_next_key", "Cannot list BPF map keys", ret);
    keys.push(next);
    prev = next;
  }
}

/** The parts of struct bpf_map_info the probe uses. */
export interface MapInfo {
  /** enum bpf_map_type. */
  type: number;
  /** Kernel map id (as in `bpftool map list`). */
  id: number;
  /** max_entries: for a ring buffer, its size in bytes. */
  maxEntries: number;
}

/** Reads struct bpf_map_info of a map fd. */
export function mapInfo(fd: number): MapInfo {
  const info = new Uint8Array(96);
  const len = new Uint32Array([info.length]);
  check(
    "bpf_obj_get_info_by_fd",
    "Cannot read BPF map info",
    bpfLib().bpf_obj_get_info_by_fd(fd, info, new Uint8Array(len.buffer)),
  );
  const v = new DataView(info.buffer);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    maxEntries: v.getUint32(16, true),
  };
}

/**
 * Runs a program once with BPF_PROG_TEST_RUN and `ctx` as its context
 * (syscall programs); returns the program's return value.
 */
export function progTestRun(
  progFd: number,
  ctx: Uint8Array<ArrayBuffer>,
): number {
  // struct bpf_test_run_opts (libbpf 1.1): sz@0, ctx_in@32, ctx_size_in@48,
  // retval@56; 80 bytes.
  const opts = new Uint8Array(80);
  const v = new DataView(opts.buffer);
  v.setBigUint64(0, 80n, true);
  v.setBigUint64(
    32,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(ctx))),
    true,
  );
  v.setUint32(48, ctx.length, true);
  check(
    "bpf_prog_test_run_opts",
    "Cannot run a BPF test program",
    bpfLib().bpf_prog_test_run_opts(progFd, opts),
  );
  return v.getUint32(56, true);
}
