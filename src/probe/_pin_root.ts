/**
 * The pin root: the bpffs directory holding every instance directory
 * (default /sys/fs/bpf/spanbridge). Whoever controls it controls the probe's
 * pins, so it is trusted only when the kernel says it is a real directory on
 * bpffs (statfs, not a mount-table path string), reached without symlinks,
 * owned by root and private (0700). It is created that way when missing and
 * refused otherwise: any local user may create directories on a bpffs
 * mounted with the default mode 1777.
 *
 * Starting controllers take an exclusive flock on it while they look at,
 * adopt or create instance directories, so two controllers of one instance
 * name cannot both start, and a stopping controller cannot remove the root
 * under a starting one.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { EnvironmentError } from "../errors.ts";
import { BPF_FS_MAGIC, fsType } from "../ffi/mod.ts";

/** Owner and mode the pin root must have. */
const trusted = { uid: 0, mode: 0o700 };

/** Throws an EnvironmentError naming `what` unless `path` is on bpffs. */
function requireBpffs(path: string, what: string): void {
  if (fsType(path) !== BPF_FS_MAGIC) {
    throw new EnvironmentError(
      `Cannot pin the probe under ${what}: no bpffs is mounted there. Mount it (as root: mount -t bpf -o mode=0700 bpf /sys/fs/bpf) or pass a --pin-root on bpffs.`,
    );
  }
}

/**
 * Makes sure `root` is a trustworthy pin root, creating it when missing:
 * refuses (EnvironmentError, one line) a symlink, a path through a symlink,
 * a directory not on bpffs, not owned by root or open to others. Nothing is
 * left behind when it refuses.
 */
export function ensurePinRoot(root: string): void {
  const parent = dirname(resolve(root));
  let stat: Deno.FileInfo;
  try {
    stat = Deno.lstatSync(root);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new EnvironmentError(
        `Cannot check the pin root ${root}: ${e.message}. Run as root.`,
        { cause: e },
      );
    }
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    // Checked before creating it: refused afterwards, it would stay behind.
    if (pathThroughSymlink(parent)) {
      throw new EnvironmentError(
        `Cannot trust the pin root ${root}: its path goes through a symlink. Pass the real path as --pin-root.`,
      );
    }
    try {
      requireBpffs(parent, root);
    } catch (e2) {
      if (e2 instanceof Deno.errors.NotFound) {
        throw new EnvironmentError(
          `Cannot pin the probe under ${root}: ${parent} does not exist. Mount bpffs (as root: mount -t bpf -o mode=0700 bpf /sys/fs/bpf) or pass a --pin-root on bpffs.`,
        );
      }
      throw e2;
    }
    create(root);
    stat = Deno.lstatSync(root);
  }
  const refuse = (why: string, fix: string) => {
    throw new EnvironmentError(
      `Cannot trust the pin root ${root}: ${why}. ${fix}`,
    );
  };
  const removeIt = `Remove it (as root: rm -r ${root}) and start again.`;
  if (stat.isSymlink) refuse("it is a symlink", removeIt);
  if (!stat.isDirectory) refuse("it is not a directory", removeIt);
  if (Deno.realPathSync(root) !== resolve(root)) {
    refuse(
      "its path goes through a symlink",
      "Pass the real path as --pin-root.",
    );
  }
  requireBpffs(root, root);
  if (stat.uid !== trusted.uid) {
    refuse(`it is owned by uid ${stat.uid}, not root`, removeIt);
  }
  if (((stat.mode ?? 0) & 0o7777) !== trusted.mode) {
    refuse(
      `its mode is ${((stat.mode ?? 0) & 0o7777).toString(8)}, not 700`,
      `Make it private (as root: chmod 700 ${root}) or remove it.`,
    );
  }
}

/** Creates the pin root owned by root with mode 0700, or leaves nothing. */
function create(root: string): void {
  try {
    Deno.mkdirSync(root, { mode: trusted.mode });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return; // checked by the caller
    const why = e instanceof Error ? e.message : String(e);
    throw new EnvironmentError(
      `Cannot create the pin root ${root}: ${why}. Run as root.`,
      { cause: e },
    );
  }
  try {
    // mkdir applies the umask, and a non-root user with CAP_BPF would own it.
    Deno.chmodSync(root, trusted.mode);
    if (Deno.uid() !== trusted.uid) Deno.chownSync(root, trusted.uid, 0);
  } catch (e) {
    Deno.removeSync(root);
    const why = e instanceof Error ? e.message : String(e);
    throw new EnvironmentError(
      `Cannot create the pin root ${root}: it must belong to root, and ${why}. Run as root.`,
      { cause: e },
    );
  }
}

/**
 * Runs `fn` holding an exclusive lock on the pin root `root` (made
 * trustworthy first); retries when a stopping controller removed the root
 * meanwhile.
 */
export async function withPinRootLock<T>(
  root: string,
  fn: () => T | Promise<T>,
): Promise<T> {
  for (;;) {
    ensurePinRoot(root);
    let dir: Deno.FsFile;
    try {
      dir = Deno.openSync(root, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // removed meanwhile
      throw e;
    }
    try {
      await dir.lock(true);
      const now = lstatOrNull(root);
      if (now?.ino !== dir.statSync().ino) continue; // removed meanwhile
      return await fn();
    } finally {
      dir.close(); // also releases the lock
    }
  }
}

/**
 * Removes the pin root if no instance directory is left in it. Waits for a
 * controller that is starting (at most one bpftool load).
 */
export function removePinRootIfEmpty(root: string): void {
  const dir = lstatOrNull(root) && Deno.openSync(root, { read: true });
  if (!dir) return;
  try {
    dir.lockSync(true);
    Deno.removeSync(root);
  } catch (e) {
    // Not empty (ENOTEMPTY has no Deno error class), or already gone.
    const notEmpty = e instanceof Error && "code" in e &&
      e.code === "ENOTEMPTY";
    if (!notEmpty && !(e instanceof Deno.errors.NotFound)) throw e;
  } finally {
    dir.close();
  }
}

/** Whether the existing directory `dir` (absolute) is reached through a symlink. */
function pathThroughSymlink(dir: string): boolean {
  try {
    return Deno.realPathSync(dir) !== dir;
  } catch {
    return false; // missing: requireBpffs names it
  }
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
