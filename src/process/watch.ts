/**
 * Notices when a target binary is replaced, e.g. rebuilt in place by
 * `go build -o` (which writes a new inode): the uprobe on the old inode does
 * not see the new binary, so the controller must attach again.
 *
 * It watches the binary's directory with inotify (Deno.watchFs), so nothing
 * runs while the directory is quiet; events for the binary's name are
 * debounced (a build writes many times) and then the path is resolved again.
 *
 * A file rewritten in place (`cp new old`, `cat > old`) keeps its inode, and
 * a uprobe on it stays at its old offset, which in the new content may be the
 * middle of an instruction. The first event of such a write is reported at
 * once, before the debounce, so the caller can detach before a process runs
 * the new content (processes started in the instant between the write and
 * the event are not protected: inotify reports after the fact).
 *
 * @module
 */

import { TargetError } from "./errors.ts";
import { resolveTarget, type TargetBinary } from "./resolve.ts";

/** Options of {@linkcode watchBinary}. */
export interface WatchBinaryOptions {
  /** Quiet time after the last event before the path is read again, in ms. Default 250. */
  debounceMs?: number;
  /**
   * Called when the path changed but cannot be used (e.g. rebuilt without
   * the SDK); the watch goes on and the old binary stays attached.
   */
  onError?: (err: unknown) => void;
  /**
   * Called at once, without debounce, when the file the target resolved to
   * is being written in place (same inode, new size or modification time).
   * The new content is resolved and reported to `onReplaced` after the
   * debounce.
   */
  onRewriting?: (old: TargetBinary) => void;
}

/** A running watch; close it to stop watching. */
export interface BinaryWatch {
  /** Stops watching. No callback runs after this returns. */
  close(): void;
}

/**
 * Watches `target.path` and calls `onReplaced` with the newly resolved binary
 * each time the path comes to name a different file (other dev/inode) or the
 * file's content changed (other `version`: rewritten in place). It is meant
 * for targets given by path; a /proc/<pid>/exe target has nothing to watch.
 *
 * @example
 * ```ts
 * const t = await resolveTarget("./bin/server");
 * const watch = watchBinary(t, (next) => console.log("rebuilt:", next.ino));
 * // ... later
 * watch.close();
 * ```
 */
export function watchBinary(
  target: TargetBinary,
  onReplaced: (next: TargetBinary) => void,
  options: WatchBinaryOptions = {},
): BinaryWatch {
  const debounceMs = options.debounceMs ?? 250;
  const onError = options.onError ?? (() => {});
  const onRewriting = options.onRewriting ?? (() => {});
  // Watch the directory of the path given and of the file it resolved to:
  // either a symlink or the file behind it may be replaced.
  const paths = [...new Set([absolute(target.path), target.realPath])];
  const names = new Set(paths.map(baseName));
  const watcher = Deno.watchFs([...new Set(paths.map(dirName))], {
    recursive: false,
  });
  let current = target;
  let rewriting = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const recheck = async () => {
    let next: TargetBinary;
    try {
      next = await resolveTarget(target.path);
    } catch (err) {
      // Deleted and not yet recreated: the next event brings it back.
      if (
        !closed && !(err instanceof TargetError && err.kind === "not-found")
      ) {
        onError(err);
      }
      return;
    }
    if (closed) return;
    if (
      next.dev === current.dev && next.ino === current.ino &&
      next.version === current.version
    ) {
      return;
    }
    current = next;
    rewriting = false;
    onReplaced(next);
  };

  // Checks run one after another, so one replacement is reported once.
  let checks = Promise.resolve();
  const schedule = (ms: number) => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      checks = checks.then(recheck);
    }, ms);
  };

  // The path may have changed between resolving `target` and starting the
  // watch: check once now.
  schedule(0);
  (async () => {
    for await (const event of watcher) {
      if (!event.paths.some((p) => names.has(baseName(p)))) continue;
      if (!rewriting && !closed && writtenInPlace(current)) {
        rewriting = true;
        onRewriting(current);
      }
      schedule(debounceMs);
    }
  })().catch((err) => {
    if (!closed) onError(err);
  });

  return {
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    },
  };
}

/** True when the file `target` was read from now has other content (same inode). */
function writtenInPlace(target: TargetBinary): boolean {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(target.realPath);
  } catch {
    return false; // gone: a replacement, not a rewrite
  }
  if (st.dev !== target.dev || st.ino !== target.ino) return false;
  // ctime alone also moves on chmod, link and rename: content writes move
  // the modification time or the size.
  const [, mtime, size] = target.version.split(":");
  return `${st.mtime?.getTime() ?? 0}:${st.size}` !== `${mtime}:${size}`;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

function dirName(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
