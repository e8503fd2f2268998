/**
 * perf_event_open for uprobes (the uprobe PMU): the perf event a BPF link
 * attaches a program to, or that holds the program itself on kernels
 * without BPF links for perf events (before 5.15).
 *
 * @module
 */

import { cLib } from "./_lib.ts";
import { lastErrno, privilegeHint, SysError } from "./errors.ts";
import { cString } from "./bpf.ts";
import { EnvironmentError } from "../errors.ts";

const perfEventOpenNr: Record<string, number> = { x86_64: 298, aarch64: 241 };
const PERF_FLAG_FD_CLOEXEC = 8;
const PERF_ATTR_SIZE = 128;

let uprobePmuType: number | undefined;

/** Where the kernel publishes the uprobe PMU's type (CONFIG_UPROBE_EVENTS). */
export const uprobePmuPath = "/sys/bus/event_source/devices/uprobe/type";

/**
 * The uprobe PMU's type from {@linkcode uprobePmuPath}, read once; throws an
 * {@linkcode EnvironmentError} when the kernel has no uprobe PMU.
 */
export function uprobeType(): number {
  return uprobePmuType ??= readUprobeType(uprobePmuPath);
}

/**
 * Reads a uprobe PMU type file (`path` is a parameter for tests); throws an
 * {@linkcode EnvironmentError} when the kernel has no uprobe PMU.
 */
export function readUprobeType(path: string): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new EnvironmentError(
      `Cannot open uprobes: ${path} is unreadable (${why}). The kernel needs CONFIG_UPROBE_EVENTS (Linux 4.17+), and Deno must run with --allow-all to read /sys.`,
      { cause: e },
    );
  }
  return Number(text.trim());
}

/**
 * Opens a uprobe perf event on `offset` (a file offset) of the executable
 * at `path`, for every process (`pid` -1, the default) or for process `pid`
 * alone: then the kernel installs the breakpoint only in that process's
 * memory, and every other process of the binary keeps its NOP. Returns the
 * perf fd.
 */
export function openUprobe(path: string, offset: number, pid = -1): number {
  const nr = perfEventOpenNr[Deno.build.arch];
  if (nr === undefined) {
    throw new Error(
      `Cannot open a uprobe: unsupported architecture ${Deno.build.arch}.`,
    );
  }
  const pathC = cString(path);
  const attr = new Uint8Array(PERF_ATTR_SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(0, uprobeType(), true); // type
  v.setUint32(4, PERF_ATTR_SIZE, true); // size
  // config1: the path, config2: the file offset.
  v.setBigUint64(
    56,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(pathC))),
    true,
  );
  v.setBigUint64(64, BigInt(offset), true);
  // perf_event_open(attr, pid, cpu, group_fd = -1, flags): every process
  // needs a cpu (any one: a uprobe fires on all), one process needs cpu -1.
  const cpu = pid === -1 ? 0 : -1;
  const fd = Number(
    cLib().syscall(
      BigInt(nr),
      attr,
      pid,
      cpu,
      -1,
      BigInt(PERF_FLAG_FD_CLOEXEC),
    ),
  );
  if (fd < 0) {
    const errno = lastErrno();
    const hint = privilegeHint(errno) ??
      (errno === 2
        ? "Check that the binary exists."
        : errno === 3
        ? `Process ${pid} exited.`
        : errno === 22
        ? "Check the file offset of the probed function."
        : undefined);
    throw new SysError(
      "perf_event_open",
      `Cannot open a uprobe on ${path} at offset 0x${offset.toString(16)}${
        pid === -1 ? "" : ` for process ${pid}`
      }`,
      errno,
      hint,
    );
  }
  pathC.fill(0); // keeps pathC alive until after the call
  return fd;
}

/** _IOW('$', 8, __u32) and _IO('$', 0) from <linux/perf_event.h>. */
const PERF_EVENT_IOC_SET_BPF = 0x40042408n;
const PERF_EVENT_IOC_ENABLE = 0x2400n;

/**
 * Gives the uprobe perf event `perfFd` the program `progFd` and enables it,
 * the way kernels before 5.15 attach (PERF_EVENT_IOC_SET_BPF). The program
 * stays attached while `perfFd` is open: such an attachment cannot be
 * pinned and ends with the process that holds it.
 */
export function setPerfEventProgram(
  perfFd: number,
  progFd: number,
  what: string,
): void {
  for (
    const [request, arg, name] of [
      [PERF_EVENT_IOC_SET_BPF, BigInt(progFd), "PERF_EVENT_IOC_SET_BPF"],
      [PERF_EVENT_IOC_ENABLE, 0n, "PERF_EVENT_IOC_ENABLE"],
    ] as const
  ) {
    if (cLib().ioctl(perfFd, request, arg) < 0) {
      const errno = lastErrno();
      throw new SysError(
        `ioctl(${name})`,
        `Cannot attach the probe to ${what}`,
        errno,
        privilegeHint(errno),
      );
    }
  }
}
