/**
 * The pin directories of probe instances: one per controller instance under
 * the pin root, named after the instance name, the owner process (pid and
 * start time, so a reused pid is not mistaken for the owner) and the BPF
 * object's digest, so an instance is only adopted by a controller running
 * the same program.
 *
 * Layout of an instance directory:
 *   progs/ended_<kind>   the program
 *   maps/{rb,sb_counters,sb_config,sb_pids}
 *   links/<dev>_<ino>_<offset>   one pinned uprobe link per binary
 *
 * @module
 */

/** The fields encoded in an instance directory's name. */
export interface InstanceId {
  /** The instance name chosen by the controller (letters, digits, -). */
  name: string;
  /** Owner process id. */
  pid: number;
  /** Owner's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  start: number;
  /** A random number distinguishing instances of one process. */
  n: number;
  /** The first hex digits of the BPF object's SHA-256. */
  digest: string;
}

import { EnvironmentError } from "../ffi/mod.ts";

const pattern = /^([A-Za-z0-9-]+)_(\d+)_(\d+)_(\d+)_([0-9a-f]+)$/;

/** Directory name of an instance (bpffs refuses dots in names). */
export function instanceDirName(id: InstanceId): string {
  return `${id.name}_${id.pid}_${id.start}_${id.n}_${id.digest}`;
}

/** Parses a directory name made by {@linkcode instanceDirName}. */
export function parseInstanceDirName(dirName: string): InstanceId | null {
  const m = pattern.exec(dirName);
  if (!m) return null;
  return {
    name: m[1],
    pid: Number(m[2]),
    start: Number(m[3]),
    n: Number(m[4]),
    digest: m[5],
  };
}

/** Start time of process `pid`, or null when there is no such process. */
export function processStart(pid: number): number | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  // Field 2 (comm) may contain spaces and parentheses: count after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[19]);
}

/** True while the process that made the instance still runs. */
export function ownerAlive(id: InstanceId): boolean {
  return processStart(id.pid) === id.start;
}

/** The instance directories under `root` (none if root does not exist). */
export function listInstances(root: string): { dir: string; id: InstanceId }[] {
  const out: { dir: string; id: InstanceId }[] = [];
  try {
    for (const e of Deno.readDirSync(root)) {
      const id = e.isDirectory ? parseInstanceDirName(e.name) : null;
      if (id) out.push({ dir: `${root}/${e.name}`, id });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.dir < b.dir ? -1 : 1);
}

/**
 * Removes an instance directory: links first (each removal detaches one
 * uprobe), then programs and maps. Missing entries are fine.
 */
export function removeInstance(dir: string): void {
  try {
    for (const e of Deno.readDirSync(`${dir}/links`)) {
      Deno.removeSync(`${dir}/links/${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Removes the directory `dir` if it is empty. A controller starting at the
 * same time recreates it (makePrivateDir is recursive), so this cannot race.
 */
export function removeIfEmpty(dir: string): void {
  try {
    Deno.removeSync(dir);
  } catch (e) {
    // Not empty (ENOTEMPTY has no Deno error class), or already gone.
    if (!(e instanceof Deno.errors.NotFound) && !isNotEmpty(e)) throw e;
  }
}

function isNotEmpty(e: unknown): boolean {
  return e instanceof Error && "code" in e && e.code === "ENOTEMPTY";
}

/** Throws a clear error unless `path` lies on a mounted bpffs. */
export function requireBpffs(path: string): void {
  const mounts = Deno.readTextFileSync("/proc/self/mounts").split("\n");
  const ok = mounts.some((line) => {
    const [, mountPoint, type] = line.split(" ");
    return type === "bpf" &&
      (path === mountPoint ||
        path.startsWith(mountPoint.replace(/\/$/, "") + "/"));
  });
  if (!ok) {
    throw new EnvironmentError(
      `Cannot pin the probe under ${path}: no bpffs is mounted there. Mount it (as root: mount -t bpf bpf /sys/fs/bpf) or pass a --pin-root on bpffs.`,
    );
  }
}

/** Creates `dir` and missing parents with mode 0700 (bpftool does not). */
export function makePrivateDir(dir: string): void {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const message =
      `Cannot create the pin directory ${dir}: ${why}. Run as root or grant CAP_SYS_ADMIN.`;
    throw e instanceof Deno.errors.PermissionDenied
      ? new EnvironmentError(message, { cause: e })
      : new Error(message, { cause: e });
  }
}
