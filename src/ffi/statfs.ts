/**
 * Which file system a path lies on, by statfs(2): the kernel's answer, not
 * a guess from /proc/self/mounts path strings, which a symlink or a bind
 * mount can make say the wrong thing.
 *
 * @module
 */

import { cLib } from "./_lib.ts";
import { cString } from "./bpf.ts";
import { lastErrno, SysError } from "./errors.ts";

/** BPF_FS_MAGIC from linux/magic.h: the f_type of bpffs. */
export const BPF_FS_MAGIC = 0xcafe4a11;

/**
 * The f_type (file system magic) of the file system holding `path`. Throws
 * a {@linkcode SysError} naming the path when statfs fails.
 */
export function fsType(path: string): number {
  // struct statfs is 120 bytes on x86_64 and arm64; f_type is its first
  // field, a long.
  const buf = new Uint8Array(256);
  if (cLib().statfs(cString(path), buf) !== 0) {
    throw new SysError(
      "statfs",
      `Cannot check the file system of ${path}`,
      lastErrno(),
    );
  }
  return Number(new DataView(buf.buffer).getBigInt64(0, true));
}
