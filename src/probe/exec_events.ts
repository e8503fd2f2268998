/**
 * Process events from the kernel, host-wide, read from a small ring buffer
 * filled by bpf/exec.bpf.c on the sched_process_exec and sched_process_exit
 * raw tracepoints, and filtered there: an exec of a binary the controller
 * ruled out ({@linkcode ExecEvents.ruleOut}) does not wake it, and only the
 * exits of processes it watches are reported.
 *
 * Why a raw tracepoint rather than the proc connector or fanotify: the proc
 * connector needs CAP_NET_ADMIN, which a node agent should not be given, and
 * reports on every fork and thread too; fanotify's FAN_OPEN_EXEC sees the
 * file, not the process, and needs a mark per mount (every container's
 * root). The tracepoint needs only the CAP_BPF and CAP_PERFMON the uprobe
 * already needs, sees every pid and mount namespace, can filter before
 * waking anyone, and is not pinned, so it stops with the controller.
 *
 * @module
 */

import {
  type BpfObject,
  closeFd,
  loadBpfObject,
  mapDelete,
  mapLookup,
  mapUpdate,
  SysError,
} from "../ffi/mod.ts";
import { execLayout } from "../wire/mod.ts";
import { openRingFd, type RingReader } from "./ring.ts";
import { defaultObjectDir, objectArch, readObjectFile } from "./_objects.ts";

/** What happened to a process. */
export type ExecEventKind = "exec" | "exit";

/**
 * An executable file as the kernel identified it when a process executed it
 * (struct sb_exec_binary in bpf/exec.h).
 */
export interface ExecBinary {
  /** The inode number. */
  ino: bigint;
  /** The device as the kernel encodes it (major << 20 | minor). */
  dev: number;
  /** The inode's generation (a reused inode number gets a new one). */
  generation: number;
  /** The inode's change time: seconds. */
  ctimeSec: bigint;
  /** The inode's change time: nanoseconds. */
  ctimeNsec: number;
}

/** One process event. */
export interface ExecEvent {
  /** The process id (in the initial pid namespace). */
  pid: number;
  /** "exec": it now runs a new program; "exit": its last thread exited. */
  kind: ExecEventKind;
  /** For "exec": the parent's process id. */
  ppid?: number;
  /** For "exec": the executable; undefined when the kernel could not read it. */
  binary?: ExecBinary;
  /** For "exec" with a `binary`: the executable's size in bytes. */
  size?: number;
  /**
   * For "exec": the path given to execve (the interpreter's for a script),
   * as the process saw it (its mount namespace and working directory).
   */
  path?: string;
}

/** The events, read as they come; close to detach. */
export interface ExecEvents {
  /**
   * Resolves with the next events, waiting in the kernel (no polling) up to
   * `timeoutMs`: empty after a timeout or once closed.
   */
  next(timeoutMs: number): Promise<ExecEvent[]>;
  /**
   * Tells the kernel that `binary` has no probe point: its execs are no
   * longer reported (but for processes being watched). Only this exact
   * identity: a rewrite or a new file on the same inode is reported again.
   * The kernel keeps 8192 (SB_EXEC_NO_SDK_ENTRIES in bpf/exec.h) and
   * forgets the least used first.
   */
  ruleOut(binary: ExecBinary): void;
  /** Reports the exit of process `pid` (and any exec it makes). */
  watch(pid: number): void;
  /** No longer reports the exit of `pid`, nor execs of ruled-out binaries by it. */
  unwatch(pid: number): void;
  /**
   * Events the kernel dropped since the start because the ring was full
   * (exec_lost in bpf/exec.bpf.c): processes the caller must find in /proc.
   */
  lost(): number;
  /** Detaches the programs and frees the ring and maps. Idempotent. */
  close(): void;
}

/** What a full hash map answers to a new key. */
const E2BIG = 7;
/** The event kinds of bpf/exec.h by value. */
const kinds: Record<number, ExecEventKind> = {
  [execLayout.KIND_EXEC]: "exec",
  [execLayout.KIND_EXIT]: "exit",
};
const at = execLayout.event.offsets;
const binaryAt = execLayout.binary.offsets;

/** struct sb_exec_binary as the kernel wrote it. */
export function encodeExecBinary(b: ExecBinary): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(execLayout.binary.size);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(binaryAt.ino, b.ino, true);
  v.setBigInt64(binaryAt.ctime_sec, b.ctimeSec, true);
  v.setUint32(binaryAt.ctime_nsec, b.ctimeNsec, true);
  v.setUint32(binaryAt.dev, b.dev, true);
  v.setUint32(binaryAt.generation, b.generation, true);
  return bytes;
}

/** Decodes one record of bpf/exec.bpf.c; undefined for an unknown kind. */
export function decodeExecEvent(rec: Uint8Array): ExecEvent | undefined {
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const kind = kinds[v.getUint32(at.kind, true)];
  const pid = v.getUint32(at.tgid, true);
  if (kind !== "exec") return kind && { pid, kind };
  if (rec.byteLength < at.path) return undefined;
  const binary: ExecBinary = {
    ino: v.getBigUint64(at.binary + binaryAt.ino, true),
    ctimeSec: v.getBigInt64(at.binary + binaryAt.ctime_sec, true),
    ctimeNsec: v.getUint32(at.binary + binaryAt.ctime_nsec, true),
    dev: v.getUint32(at.binary + binaryAt.dev, true),
    generation: v.getUint32(at.binary + binaryAt.generation, true),
  };
  const pathLen = Math.min(
    v.getUint32(at.path_len, true),
    rec.byteLength - at.path,
  );
  const path = pathLen > 1
    ? new TextDecoder().decode(rec.subarray(at.path, at.path + pathLen - 1))
    : undefined;
  return {
    pid,
    kind,
    ppid: v.getUint32(at.ppid, true),
    ...(binary.ino !== 0n &&
      { binary, size: Number(v.getBigUint64(at.size, true)) }),
    path,
  };
}

/** What {@linkcode sameBinary} compares: the parts of a stat it needs. */
export interface FileStamp {
  /** st_dev. */
  dev: number;
  /** st_ino. */
  ino: number | null;
  /** The change time. */
  ctime: Date | null;
}

/**
 * True when `st` (a stat) describes the file the kernel identified as
 * `binary`: same inode number, same device, same change time to the second
 * (Deno's stat shows no finer change time). False for any doubt, e.g. a file
 * system that shows other numbers to stat than its inodes hold: a binary is
 * then not ruled out, which costs only the wake-ups.
 *
 * Why that is enough to rule a binary out on the strength of a file read
 * after its exec: the change time never moves back, so content read after
 * a change belongs to a newer change time than the kernel's, which no later
 * exec can show again. A verdict read before the exec is keyed by the
 * file's modification time (to the millisecond) and size as well.
 */
export function sameBinary(binary: ExecBinary, st: FileStamp): boolean {
  const major = binary.dev >>> 20;
  const minor = binary.dev & 0xfffff;
  // The kernel's new_encode_dev: what stat shows as st_dev.
  const dev = (minor & 0xff) + major * 0x100 + (minor >>> 8) * 0x100000;
  return st.ino !== null && BigInt(st.ino) === binary.ino && st.dev === dev &&
    st.ctime !== null &&
    BigInt(Math.floor(st.ctime.getTime() / 1000)) === binary.ctimeSec;
}

/** Options of {@linkcode openExecEvents}. */
export interface ExecEventsOptions {
  /** Where the compiled exec.<arch>.o lives. */
  objectDir?: string;
  /**
   * The ring's size in bytes (SPANBRIDGE_EXEC_RING_SIZE; a power of two
   * within {@linkcode execRingBytesBounds}); default
   * {@linkcode defaultExecRingBytes}. Tests make it small to overflow it.
   */
  ringBytes?: number;
}

/** The exec event ring's size unless told otherwise: SB_EXEC_RING_BYTES of bpf/exec.h. */
export const defaultExecRingBytes: number = execLayout.RING_BYTES;

/**
 * The exec event ring sizes accepted (a power of two in between): a page,
 * and far more than a storm of execs needs.
 */
export const execRingBytesBounds = { min: 4 << 10, max: 64 << 20 };

/**
 * Checks the options as {@linkcode openExecEvents} takes them (the CLI calls
 * this once, where it reads them); returns a sentence naming the bad value,
 * or undefined when they are fine.
 */
export function validateExecEventsOptions(
  options: ExecEventsOptions,
): string | undefined {
  const { ringBytes } = options;
  const { min, max } = execRingBytesBounds;
  if (
    ringBytes !== undefined &&
    (!Number.isInteger(ringBytes) || ringBytes < min || ringBytes > max ||
      (ringBytes & (ringBytes - 1)) !== 0)
  ) {
    return `Invalid SPANBRIDGE_EXEC_RING_SIZE ${ringBytes}: expected a power of two from ${
      min >> 10
    }K to ${max >> 20}M (default ${defaultExecRingBytes >> 10}K).`;
  }
  return undefined;
}

/**
 * Loads bpf/exec.bpf.c and attaches it. Throws when the object is missing,
 * the kernel refuses it or a privilege is missing (a sentence naming the
 * call); callers fall back to rescanning /proc.
 */
export function openExecEvents(options: ExecEventsOptions = {}): ExecEvents {
  const path = `${
    options.objectDir ?? defaultObjectDir
  }/exec.${objectArch()}.o`;
  const obj: BpfObject = loadBpfObject(
    readObjectFile(path),
    path,
    options.ringBytes ? { maxEntries: { exec_events: options.ringBytes } } : {},
  );
  let ring: RingReader;
  const fds: number[] = [];
  try {
    fds.push(
      obj.dupMapFd("exec_no_sdk"),
      obj.dupMapFd("exec_watched"),
      obj.dupMapFd("exec_lost"),
    );
    obj.attachRawTracepoint("sb_exec", "sched_process_exec");
    obj.attachRawTracepoint("sb_exit", "sched_process_exit");
    ring = openRingFd(obj.dupMapFd("exec_events"), `${path} exec_events`);
  } catch (e) {
    for (const fd of fds) closeFd(fd);
    obj.close();
    throw e;
  }
  const [noSdkFd, watchedFd, lostFd] = fds;
  const zeroKey = new Uint8Array(4);
  const lostValue = new Uint8Array(8);
  const lostView = new DataView(lostValue.buffer);
  const one = new Uint8Array([1]);
  const pidKey = (pid: number) => new Uint8Array(new Uint32Array([pid]).buffer);
  let closed = false;
  return {
    async next(timeoutMs) {
      if (closed) return [];
      await ring.wait(timeoutMs);
      const events: ExecEvent[] = [];
      ring.drain((rec) => {
        const e = decodeExecEvent(rec);
        if (e) events.push(e);
      });
      return events;
    },
    ruleOut(binary) {
      if (!closed) mapUpdate(noSdkFd, encodeExecBinary(binary), one);
    },
    watch(pid) {
      if (closed) return;
      try {
        mapUpdate(watchedFd, pidKey(pid), one);
      } catch (err) {
        // Full: this exit is missed, and the slow rescan notices it.
        if (!(err instanceof SysError && err.errno === E2BIG)) throw err;
      }
    },
    unwatch(pid) {
      if (!closed) mapDelete(watchedFd, pidKey(pid));
    },
    lost() {
      if (closed || !mapLookup(lostFd, zeroKey, lostValue)) return 0;
      return Number(lostView.getBigUint64(0, true));
    },
    close() {
      if (closed) return;
      closed = true;
      for (const fd of fds) closeFd(fd);
      obj.close();
      ring.close();
    },
  };
}
