/**
 * Processes as /proc shows them: what a pid runs (executable path, dev and
 * inode), its command line and owner, and which pids run a given binary.
 *
 * The uprobe is attached per binary (pid -1), so new processes are traced
 * without any of this; it serves resource attribution and `--pid`.
 *
 * @module
 */

import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { parseCgroup } from "./cgroup.ts";
import { onOverlay } from "./overlay.ts";
import { TargetError } from "./errors.ts";
import { accessAdvice } from "./self.ts";

/** What /proc says about one process. */
export interface ProcessInfo {
  /** The process id (the thread group id). */
  pid: number;
  /** The parent's process id. */
  ppid: number;
  /** The executable's path, without the " (deleted)" suffix. */
  exePath: string;
  /** The executable's file name (last element of exePath). */
  exeName: string;
  /** True when the executable was deleted or replaced since the process started. */
  exeDeleted: boolean;
  /** The device of the executable. */
  dev: number;
  /** The inode of the executable. */
  ino: number;
  /** The arguments, argv[0] first. */
  cmdline: string[];
  /** The command name (/proc/pid/comm, at most 15 bytes). */
  command: string;
  /** The real user id. */
  uid: number;
  /**
   * The real user's name from the /etc/passwd the process itself sees (a
   * container's own), or the uid in decimal when that file lacks it.
   */
  owner: string;
  /**
   * The start time in clock ticks after boot (/proc/pid/stat field 22): with
   * the pid, it tells a process from a later one that reused its pid.
   */
  startTicks: number;
  /** The container it runs in (from /proc/pid/cgroup), if any. */
  containerId?: string;
  /** The Kubernetes pod it runs in (from /proc/pid/cgroup), if any. */
  podUid?: string;
}

const deletedSuffix = " (deleted)";

/**
 * Reads what /proc says about `pid`. Throws a {@linkcode TargetError} when
 * `pid` is not a positive integer, the process does not exist (kind
 * "not-found"), may not be inspected by this user ("access-denied"), or is
 * a kernel thread without an executable ("not-found").
 */
export async function processInfo(pid: number): Promise<ProcessInfo> {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new TargetError(
      "not-found",
      `Cannot use process ${pid}: a pid is a positive integer; find it with \`pgrep <name>\`.`,
    );
  }
  const dir = `/proc/${pid}`;
  try {
    const [link, exe, stat, cmdline, comm, status, cgroup] = await Promise
      .all([
        Deno.readLink(`${dir}/exe`),
        Deno.stat(`${dir}/exe`),
        Deno.readTextFile(`${dir}/stat`),
        readHead(`${dir}/cmdline`, maxCmdlineBytes),
        Deno.readTextFile(`${dir}/comm`),
        Deno.readTextFile(`${dir}/status`),
        Deno.readTextFile(`${dir}/cgroup`).catch(() => ""),
      ]);
    const exeDeleted = link.endsWith(deletedSuffix);
    const exePath = exeDeleted ? link.slice(0, -deletedSuffix.length) : link;
    const fields = statFields(stat);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    return {
      pid,
      ppid: Number(fields[1]),
      exePath,
      exeName: exePath.slice(exePath.lastIndexOf("/") + 1),
      exeDeleted,
      dev: exe.dev,
      ino: exe.ino ?? 0,
      cmdline: splitCmdline(cmdline),
      command: comm.trimEnd(),
      uid,
      owner: (await userNames(pid)).get(uid) ?? String(uid),
      startTicks: Number(fields[19]),
      ...parseCgroup(cgroup),
    };
  } catch (err) {
    throw await procError(pid, err);
  }
}

/**
 * Returns the start time (clock ticks after boot) of `pid`, or undefined when
 * the process is gone or has exited and awaits its parent (a zombie): one
 * meaning of "alive" for every liveness check (traced processes, the owners
 * of pin directories). It is one small read.
 */
export function startTicks(pid: number): number | undefined {
  try {
    const fields = statFields(Deno.readTextFileSync(`/proc/${pid}/stat`));
    return fields[0] === "Z" ? undefined : Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** The executable a process runs, as its /proc/<pid>/exe shows it. */
export interface ExeFile {
  /** The path as the process sees it (in its own mount namespace), without " (deleted)". */
  path: string;
  /** The device of the file. */
  dev: number;
  /** The inode of the file. */
  ino: number;
  /**
   * The file's content identity: change time, modification time and size.
   * A file rewritten in place keeps dev and inode but changes this.
   */
  version: string;
  /** The file's change time (to the millisecond). */
  ctime: Date | null;
  /** The file's size in bytes. */
  size: number;
  /**
   * True when it lies on overlayfs (a container image): then `dev` is the
   * container's overlay mount, not the real file's (src/process/overlay.ts).
   */
  overlay?: boolean;
}

/**
 * Reads what `pid` executes, or undefined when it is gone, a kernel thread
 * or not ours to inspect. Two small calls: no /proc scan.
 */
export async function exeFile(pid: number): Promise<ExeFile | undefined> {
  try {
    const [link, st] = await Promise.all([
      Deno.readLink(`/proc/${pid}/exe`),
      Deno.stat(`/proc/${pid}/exe`),
    ]);
    const path = link.endsWith(deletedSuffix)
      ? link.slice(0, -deletedSuffix.length)
      : link;
    return {
      path,
      dev: st.dev,
      ino: st.ino ?? 0,
      version: fileVersion(st),
      ctime: st.ctime,
      size: st.size,
      overlay: onOverlay(`/proc/${pid}/exe`),
    };
  } catch {
    return undefined;
  }
}

/** The content identity of a file's stat: change time, modification time, size. */
export function fileVersion(
  st: Pick<Deno.FileInfo, "ctime" | "mtime" | "size">,
): string {
  return `${st.ctime?.getTime() ?? 0}:${st.mtime?.getTime() ?? 0}:${st.size}`;
}

/** Reads the container and pod `pid` runs in (empty on the host or when it is gone). */
export async function containerOf(
  pid: number,
): Promise<{ containerId?: string; podUid?: string }> {
  try {
    return parseCgroup(await Deno.readTextFile(`/proc/${pid}/cgroup`));
  } catch {
    return {};
  }
}

/** The pids of every process in /proc (this controller's pid namespace), ascending. */
export async function listPids(): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (/^\d+$/.test(entry.name)) pids.push(Number(entry.name));
  }
  return pids.sort((a, b) => a - b);
}

/** Splits /proc/pid/stat after the command (which may hold spaces and parens). */
function statFields(stat: string): string[] {
  // Fields from 3 (state) on; index i here is field i+3 of proc(5).
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * Bytes of a command line read at most. Linux allows 2 MiB (a quarter of the
 * stack limit), and the agent keeps each traced process's command line and
 * sends it in its resource (process.command_args): fifteen programs with
 * 1.4 MB command lines took the agent past a gigabyte. 16 KiB is what the
 * SDK allows its whole resource, and leaves the arguments room within the
 * resource's own bound (src/export/resource_limits.ts); what is beyond it
 * is left out, the argument it cuts through is kept cut.
 */
export const maxCmdlineBytes = 16 << 10;

/** The first `max` bytes of the file at `path` (all of it when shorter). */
async function readHead(path: string, max: number): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const buf = new Uint8Array(max);
  let n = 0;
  while (n < max) {
    const read = await file.read(buf.subarray(n));
    if (read === null) break;
    n += read;
  }
  return buf.subarray(0, n);
}

function splitCmdline(b: Uint8Array): string[] {
  const args = new TextDecoder().decode(b).split("\0");
  if (args.at(-1) === "") args.pop();
  return args;
}

/** User names by mount namespace (the /proc/<pid>/ns/mnt link), read once each. */
const usersByNs = new Map<string, Promise<Map<number, string>>>();
/** Mount namespaces remembered; containers come and go. */
const usersByNsLimit = 256;

/**
 * The users `pid` sees: its own mount namespace's /etc/passwd (through
 * /proc/<pid>/root), or this process's when they share one or when its
 * namespace cannot be read.
 */
async function userNames(pid: number): Promise<Map<number, string>> {
  const nsOf = (p: string) =>
    Deno.readLink(`/proc/${p}/ns/mnt`).catch(() => "");
  const [own, theirs] = await Promise.all([nsOf("self"), nsOf(`${pid}`)]);
  const elsewhere = theirs !== "" && theirs !== own;
  const key = elsewhere ? theirs : "self";
  let users = usersByNs.get(key);
  if (!users) {
    if (usersByNs.size >= usersByNsLimit) usersByNs.clear();
    users = readPasswd(
      elsewhere ? `/proc/${pid}/root/etc/passwd` : "/etc/passwd",
    );
    usersByNs.set(key, users);
  }
  return await users;
}

/**
 * The most bytes of a passwd file read: a host with 10,000 accounts has
 * ~700 KB. Another namespace's file is its owner's to craft.
 */
const maxPasswdBytes = 4 << 20;

/**
 * uid → name from a passwd file; empty when it cannot be read, is not a
 * regular file (a FIFO would block the read forever: the open does not wait
 * for a writer with O_NONBLOCK, and the type is checked before reading) or
 * is larger than {@linkcode maxPasswdBytes}.
 */
async function readPasswd(path: string): Promise<Map<number, string>> {
  const m = new Map<number, string>();
  try {
    const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    let text: string;
    try {
      const st = await file.stat();
      if (!st.isFile() || st.size > maxPasswdBytes) return m;
      const buf = new Uint8Array(st.size);
      const { bytesRead } = await file.read(buf, 0, st.size, 0);
      text = new TextDecoder().decode(buf.subarray(0, bytesRead));
    } finally {
      await file.close();
    }
    for (const line of text.split("\n")) {
      const [name, , uid] = line.split(":");
      if (uid !== undefined && !m.has(Number(uid))) m.set(Number(uid), name);
    }
  } catch {
    // No passwd there (a minimal image): owners show as uids.
  }
  return m;
}

async function procError(pid: number, err: unknown): Promise<TargetError> {
  if (
    err instanceof Deno.errors.PermissionDenied ||
    err instanceof Deno.errors.NotCapable
  ) {
    return new TargetError(
      "access-denied",
      `Cannot inspect process ${pid}: permission denied; ${accessAdvice()}.`,
      { cause: err },
    );
  }
  if (err instanceof Deno.errors.NotFound) {
    const exists = await Deno.stat(`/proc/${pid}`).then(
      () => true,
      () => false,
    );
    return new TargetError(
      "not-found",
      exists
        ? `Cannot inspect process ${pid}: it has no executable (a kernel thread, or it is exiting); pass the pid of a running Go program.`
        : `Cannot inspect process ${pid}: no such process; check the pid with \`ps -p ${pid}\`.`,
      { cause: err },
    );
  }
  return new TargetError(
    "not-found",
    `Cannot inspect process ${pid}: ${
      err instanceof Error ? err.message : String(err)
    }.`,
    { cause: err },
  );
}
