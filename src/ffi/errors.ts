/**
 * Error sentences for failed system and libbpf calls: which call failed, on
 * what, the errno text and name, and what to do about it.
 *
 * @module
 */

import { CategorizedError, type ErrorCategory } from "../errors.ts";
import { cLib } from "./_lib.ts";

const errnoNames: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  20: "ENOTDIR",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  38: "ENOSYS",
  95: "EOPNOTSUPP",
  524: "ENOTSUPP",
};

/**
 * errno values that mean "this machine lacks a privilege or a kernel
 * feature" rather than "this call went wrong".
 */
const environmentErrnos = new Set([1, 13, 19, 38, 95, 524]);

/** The category of a failed call's errno: "environment" for missing privileges or kernel features. */
export function errnoCategory(errno: number): ErrorCategory {
  return environmentErrnos.has(errno) ? "environment" : "runtime";
}

/**
 * A failed system or libbpf call; `errno` is the positive error number. Its
 * category is "environment" when the errno says a privilege or kernel
 * feature is missing (EPERM, EACCES, ENODEV, ENOSYS, EOPNOTSUPP, ENOTSUPP),
 * else "runtime".
 */
export class SysError extends CategorizedError {
  /** The positive errno value. */
  readonly errno: number;
  /** The failing call, e.g. "bpf_obj_get". */
  readonly call: string;

  /** Builds the sentence "<what>: <strerror> (<ENAME>). <hint>". */
  constructor(call: string, what: string, errno: number, hint?: string) {
    const text = errnoText(errno);
    super(
      errnoCategory(errno),
      `${what}: ${call} failed: ${text}.${hint ? " " + hint : ""}`,
    );
    this.name = "SysError";
    this.errno = errno;
    this.call = call;
  }
}

/** "Operation not permitted (EPERM)" for errno 1. */
export function errnoText(errno: number): string {
  const ptr = cLib().strerror(errno);
  const text = ptr ? Deno.UnsafePointerView.getCString(ptr) : `errno ${errno}`;
  return `${text} (${errnoNames[errno] ?? `errno ${errno}`})`;
}

/** The calling thread's errno, read right after a failed libc call. */
export function lastErrno(): number {
  const ptr = cLib().__errno_location();
  return ptr ? new Deno.UnsafePointerView(ptr).getInt32() : 0;
}

/** The usual advice for a permission error from bpf() or perf_event_open. */
export function privilegeHint(errno: number): string | undefined {
  if (errno === 1 || errno === 13) {
    return "Run as root or grant CAP_BPF and CAP_PERFMON (and CAP_SYS_ADMIN for bpffs pins).";
  }
  return undefined;
}
