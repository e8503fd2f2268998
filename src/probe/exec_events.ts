/**
 * Process events from the kernel: the tgid of every process that executes a
 * program and of every process that exits, host-wide, read from a small ring
 * buffer filled by bpf/exec.bpf.c on the sched_process_exec and
 * sched_process_exit raw tracepoints.
 *
 * Why a raw tracepoint rather than the proc connector or fanotify: the proc
 * connector needs CAP_NET_ADMIN, which a node agent should not be given, and
 * reports on every fork and thread too; fanotify's FAN_OPEN_EXEC sees the
 * file, not the process, and needs a mark per mount (every container's
 * root). The tracepoint needs only the CAP_BPF and CAP_PERFMON the uprobe
 * already needs, sees every pid and mount namespace, and is not pinned, so it
 * stops with the controller.
 *
 * @module
 */

import { type BpfObject, loadBpfObject } from "../ffi/mod.ts";
import { openRingFd, type RingReader } from "./ring.ts";
import { defaultObjectDir, objectArch, readObjectFile } from "./_objects.ts";

/** What happened to a process. */
export type ExecEventKind = "exec" | "exit";

/** One process event. */
export interface ExecEvent {
  /** The process id (in the initial pid namespace). */
  pid: number;
  /** "exec": it now runs a new program; "exit": its main thread exited. */
  kind: ExecEventKind;
}

/** The events, read as they come; close to detach. */
export interface ExecEvents {
  /**
   * Resolves with the next events, waiting in the kernel (no polling) up to
   * `timeoutMs`: empty after a timeout or once closed.
   */
  next(timeoutMs: number): Promise<ExecEvent[]>;
  /** Detaches the programs and frees the ring. Idempotent. */
  close(): void;
}

/** SB_EXEC_KIND_* in bpf/exec.h. */
const kinds: Record<number, ExecEventKind> = { 1: "exec", 2: "exit" };

/**
 * Loads bpf/exec.bpf.c and attaches it. Throws when the object is missing,
 * the kernel refuses it or a privilege is missing (a sentence naming the
 * call); callers fall back to rescanning /proc.
 */
export function openExecEvents(
  objectDir: string = defaultObjectDir,
): ExecEvents {
  const path = `${objectDir}/exec.${objectArch()}.o`;
  const obj: BpfObject = loadBpfObject(readObjectFile(path), path);
  let ring: RingReader;
  try {
    obj.attachRawTracepoint("sb_exec", "sched_process_exec");
    obj.attachRawTracepoint("sb_exit", "sched_process_exit");
    ring = openRingFd(obj.dupMapFd("exec_events"), `${path} exec_events`);
  } catch (e) {
    obj.close();
    throw e;
  }
  let closed = false;
  return {
    async next(timeoutMs) {
      if (closed) return [];
      await ring.wait(timeoutMs);
      const events: ExecEvent[] = [];
      ring.drain((rec) => {
        const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
        const kind = kinds[v.getUint32(4, true)];
        if (kind) events.push({ pid: v.getUint32(0, true), kind });
      });
      return events;
    },
    close() {
      if (closed) return;
      closed = true;
      obj.close();
      ring.close();
    },
  };
}
