/**
 * The probe's links: one per executable file as the kernel's uprobe sees it
 * (the real file, under a container's overlay), made once per binary however
 * many processes, in however many containers, run it, and removed shortly
 * after no process runs it any more (unless a `--target` path names it: then
 * it waits for the next process). A `--pid` link of one process alone is
 * keyed by its pid too. Every key comes from {@linkcode binaryKey}.
 *
 * A change of a traced binary's metadata only (chmod, chown, a new link:
 * the change time moves, the content's modification time and size do not)
 * keeps its link; a binary rewritten with other code is detached and
 * attached again through any process or path that shows the new file.
 * Processes left running a binary that could not be attached again are
 * counted as untraced.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Attachment, Probe } from "../probe/mod.ts";
import {
  type BinaryWatch,
  type ExeFile,
  type TargetBinary,
  watchBinary,
} from "../process/mod.ts";

/** A binary the probe is attached to. */
export interface AttachedBinary {
  /** The resolved binary (symbol, offset, build info). */
  binary: TargetBinary;
  /** The probe's link on it. */
  attachment: Attachment;
}

/** A link and what it covers. */
export interface Tracked extends AttachedBinary {
  /** {@linkcode binaryKey} of the binary (and of the pid, for a link of one process). */
  key: string;
  /** The path to show in logs: as the first process seen running it sees it. */
  label: string;
  /** Processes known to run it. */
  pids: Set<number>;
  /** Named by a `--target` path or a `--pid`: stays attached without processes. */
  followed: boolean;
  /** Set while the link outlives its last process (see lingerMs). */
  lingering?: ReturnType<typeof setTimeout>;
}

/** What {@linkcode Attachments} reads of the files it attaches to. */
export interface LinkFiles {
  /** True when `path` names the file `id` now. */
  isFile(path: string, id: { dev: number; ino: number }): boolean;
  /** Follows a `--target` path as it is replaced or rewritten (src/process/watch.ts). */
  watch: typeof watchBinary;
}

/** This machine's files. */
export const hostLinkFiles: LinkFiles = {
  isFile(path, id) {
    try {
      const st = Deno.statSync(path);
      return st.dev === id.dev && st.ino === id.ino;
    } catch {
      return false;
    }
  },
  watch: watchBinary,
};

/** What {@linkcode Attachments} tells its owner. */
export interface AttachmentHooks {
  /** `pid` was found running an attached binary. */
  traced(pid: number): void;
  /** Runs `task` in turn with the owner's other tasks. */
  inTurn(task: () => void): void;
}

/**
 * How long a link outlives the last process of its binary. A program
 * restarted at once, or one started again and again for a moment (a job, a
 * health check), keeps its link: its exit is often reported before the next
 * exec, and detaching in between would take the probe away from a process
 * that may already hand off to it.
 */
const lingerMs = 2_000;

/**
 * The one key of a binary's link: the file the kernel puts the uprobe on,
 * then the pid for a link of that process alone.
 *
 * A file on a disk is its device and inode. A file on overlayfs (a
 * container image) is not: the uprobe sits on the real file under the
 * overlay (the image layer's, shared by every container of the image),
 * while stat through each container's path gives that container's own
 * overlay device, and user space cannot learn the real file's device
 * (/proc/<pid>/maps shows the overlay's since Linux 6.8). Overlayfs does
 * report the real file's inode number (for a copied-up file, the inode
 * number of the file it came from) and its times and size: those name it.
 * A copy-up (a chmod or a rewrite in one container) makes a new real file
 * with a new change time: another key, another link. Two different files
 * with the same inode number, change and modification times (to the
 * millisecond) and size are not expected on one host.
 */
export function binaryKey(
  file: { dev: number; ino: number; version?: string; overlay?: boolean },
  pid?: number,
): string {
  const id = file.overlay
    ? `overlay:${file.ino}:${file.version}`
    : `${file.dev}:${file.ino}`;
  return `${id}${pid === undefined ? "" : `:${pid}`}`;
}

/** The probe's links, by binary (or binary and pid), and the pids they cover. */
export class Attachments {
  readonly #probe: Pick<Probe, "attach">;
  readonly #files: LinkFiles;
  readonly #log: Logger;
  readonly #hooks: AttachmentHooks;
  readonly #byKey = new Map<string, Tracked>();
  readonly #pidKey = new Map<number, string>();
  readonly #watchers: BinaryWatch[] = [];
  #untraced = 0;

  /** Nothing is attached until asked. */
  constructor(
    probe: Pick<Probe, "attach">,
    files: LinkFiles,
    log: Logger,
    hooks: AttachmentHooks,
  ) {
    this.#probe = probe;
    this.#files = files;
    this.#log = log;
    this.#hooks = hooks;
  }

  /** The binaries currently attached. */
  get attached(): AttachedBinary[] {
    return [...this.#byKey.values()];
  }

  /** Processes known to run an attached binary. */
  get processes(): number {
    return this.#pidKey.size;
  }

  /** Processes left running a binary the probe had to be taken off. */
  get untraced(): number {
    return this.#untraced;
  }

  /** The processes known to run an attached binary. */
  pids(): number[] {
    return [...this.#pidKey.keys()];
  }

  /** True when `pid` is known to run an attached binary. */
  traces(pid: number): boolean {
    return this.#pidKey.has(pid);
  }

  /** The binary of the link that covers `pid`, if any. */
  ranBy(pid: number): TargetBinary | undefined {
    const key = this.#pidKey.get(pid);
    return key === undefined ? undefined : this.#byKey.get(key)?.binary;
  }

  /** The key of the link that covers `pid`, if any. */
  keyOf(pid: number): string | undefined {
    return this.#pidKey.get(pid);
  }

  /**
   * The binary `pid` runs, with this device and inode, if attached (for one
   * process or all): by the link that covers `pid`, else by the file.
   */
  binaryOf(dev: number, ino: number, pid?: number): TargetBinary | undefined {
    const covering = pid === undefined ? undefined : this.#pidKey.get(pid);
    const tracked =
      (covering === undefined ? undefined : this.#byKey.get(covering)) ??
        this.#byKey.get(binaryKey({ dev, ino })) ??
        [...this.#byKey.values()].find((t) =>
          t.binary.dev === dev && t.binary.ino === ino
        );
    return tracked?.binary;
  }

  /** Attaches to a `--target` path's binary and follows the path as it changes. */
  follow(path: string, binary: TargetBinary): void {
    this.attach(binary, true, binary.realPath);
    this.#watchers.push(
      this.#files.watch(binary, (next) => this.#onReplaced(path, next), {
        onRewriting: (old) => this.#onRewriting(path, old),
        onError: (err) =>
          this.#log.warn("the target binary changed but cannot be traced", {
            path,
            error: (err as Error).message,
          }),
      }),
    );
  }

  /**
   * Attaches to `binary` (found running as `pid`) for every process that
   * runs it or, with `onlyPid`, for process `pid` alone.
   */
  attach(
    binary: TargetBinary,
    followed: boolean,
    label: string,
    pid?: number,
    onlyPid = false,
  ): Tracked {
    const one = onlyPid ? pid : undefined;
    const key = binaryKey(binary, one);
    const known = this.#byKey.get(key);
    if (known) {
      known.followed ||= followed;
      return known;
    }
    const attachment = this.#probe.attach(
      binary.path,
      binary.endedOffset,
      one ?? -1,
    );
    const tracked: Tracked = {
      key,
      binary,
      attachment,
      label,
      pids: new Set(),
      followed,
    };
    this.#byKey.set(key, tracked);
    this.#log.info("attached", {
      path: label,
      symbol: binary.endedSymbol,
      offset: binary.endedOffset,
      go: binary.build?.goVersion,
      ...(pid !== undefined && { pid }),
      ...(one !== undefined && { perProcess: true }),
    });
    return tracked;
  }

  /**
   * Adds `pid`, which runs `file`, to the link on it when that link covers
   * the file's content: true when it does. A followed file rewritten in
   * place is handled by its watch; a change of metadata only (chmod) keeps
   * the link.
   */
  covers(file: ExeFile, pid: number): boolean {
    const tracked = this.#byKey.get(binaryKey(file));
    if (
      !tracked ||
      !(tracked.followed || sameContent(tracked.binary.version, file.version))
    ) return false;
    this.#add(tracked, pid);
    return true;
  }

  /**
   * `pid` runs `file`, read as `binary`: attaches to it, or keeps the link
   * on the same inode when the code is the same (a touch), or detaches the
   * link of the old code and attaches again (rewritten in place).
   */
  track(binary: TargetBinary, file: ExeFile, pid: number): void {
    const key = binaryKey(file);
    const tracked = this.#byKey.get(key);
    if (tracked) {
      if (
        tracked.binary.endedOffset === binary.endedOffset &&
        tracked.binary.buildId === binary.buildId
      ) {
        // Touched (new modification time), not new code.
        tracked.binary = { ...binary, path: tracked.binary.path };
        this.#add(tracked, pid);
        return;
      }
      // New code at the old inode: the old offset may be mid-instruction.
      // Its processes run the same inode: the new link covers them.
      const running = [...tracked.pids].filter((p) => p !== pid);
      tracked.pids.clear();
      this.#detach(tracked, "the file was rewritten in place");
      const attached = this.#attachNew(binary, file, pid);
      if (!attached) return this.#lose(running, file.path);
      for (const p of [pid, ...running]) this.#add(attached, p);
      return;
    }
    if (file.overlay) this.#dropIdleVersions(file);
    const attached = this.#attachNew(binary, file, pid);
    if (attached) this.#add(attached, pid);
  }

  /**
   * `pid` exited or executes another file now: a link left without
   * processes is removed after a while, unless followed.
   */
  forget(pid: number): void {
    const key = this.#pidKey.get(pid);
    this.#pidKey.delete(pid);
    const tracked = key === undefined ? undefined : this.#byKey.get(key);
    if (!tracked) return;
    tracked.pids.delete(pid);
    if (tracked.pids.size > 0 || tracked.followed || tracked.lingering) return;
    tracked.lingering = setTimeout(() => {
      tracked.lingering = undefined;
      // In turn with the exec events queued meanwhile.
      this.#hooks.inTurn(() => {
        if (tracked.pids.size === 0 && !tracked.followed) {
          this.#detach(tracked, "no process runs it");
        }
      });
    }, lingerMs);
  }

  /** Stops following paths and detaches every link. */
  close(): void {
    for (const w of this.#watchers.splice(0)) w.close();
    for (const { attachment, lingering } of this.#byKey.values()) {
      clearTimeout(lingering);
      attachment.detach();
    }
    this.#byKey.clear();
    this.#pidKey.clear();
  }

  /**
   * Attaches to `binary`, read from the file `file` that `pid` runs, through
   * `pid` or, when it has exited meanwhile, through any other live process
   * known to run the same file or the path, if it still names that file (a
   * uprobe sits on the inode, whichever path names it).
   */
  #attachNew(
    binary: TargetBinary,
    file: ExeFile,
    pid: number,
  ): Tracked | undefined {
    const key = binaryKey(file);
    const others = [...this.#pidKey].filter(([p, k]) => k === key && p !== pid)
      .map(([p]) => `/proc/${p}/exe`);
    let firstError: unknown;
    for (const path of [`/proc/${pid}/exe`, ...others, file.path]) {
      if (path === file.path && !this.#files.isFile(path, file)) continue;
      try {
        // The file as this process sees it: the one inspected may be gone.
        // Under the key of `file`, whatever the read saw of its times.
        const { version, overlay } = file;
        const as = { ...binary, path, version, overlay };
        return this.attach(as, false, file.path, pid);
      } catch (err) {
        firstError ??= err;
      }
    }
    // Most likely it exited meanwhile; the next process brings it back.
    this.#log.debug("cannot attach to a new process's binary", {
      pid,
      path: file.path,
      error: (firstError as Error | undefined)?.message,
    });
    return undefined;
  }

  /**
   * Before a link on a new version of a file on overlayfs: the links on its
   * other versions (same inode number) that no process runs any more go at
   * once instead of lingering. The new version may be the same real file
   * rewritten in place (in a container's upper layer), where the old
   * link's offset may now be the middle of an instruction; under its own
   * key, {@linkcode track} cannot tell it from a copy.
   */
  #dropIdleVersions(file: ExeFile): void {
    for (const t of [...this.#byKey.values()]) {
      if (
        t.binary.overlay && t.binary.ino === file.ino &&
        t.binary.version !== file.version && t.pids.size === 0 && !t.followed
      ) this.#detach(t, "another version of the file runs now");
    }
  }

  #add(tracked: Tracked, pid: number): void {
    // Not by the key: a link rewritten in place hands its pids to a new
    // link under the same key.
    if (tracked.pids.has(pid)) return;
    tracked.pids.add(pid);
    this.#pidKey.set(pid, tracked.key);
    this.#hooks.traced(pid);
  }

  /** Counts and warns about processes left running without the probe. */
  #lose(pids: number[], path: string): void {
    if (pids.length === 0) return;
    this.#untraced += pids.length;
    this.#log.warn("processes left untraced", {
      path,
      pids,
      why:
        "their binary was detached and could not be attached again; their spans are lost",
    });
  }

  #detach(tracked: Tracked, reason: string): void {
    if (this.#byKey.get(tracked.key) !== tracked) return;
    clearTimeout(tracked.lingering);
    this.#byKey.delete(tracked.key);
    for (const pid of tracked.pids) this.#pidKey.delete(pid);
    tracked.attachment.detach();
    // A followed file's processes are about to be covered by the new link.
    if (!tracked.followed) this.#lose([...tracked.pids], tracked.label);
    this.#log.info("detached", { path: tracked.label, reason });
  }

  #onRewriting(exe: string, old: TargetBinary): void {
    // Before any process runs the new content with the probe at the old
    // offset, which there may be the middle of an instruction.
    const tracked = this.#byKey.get(binaryKey(old));
    if (!tracked) return;
    this.#log.info("target binary is being rewritten in place", { path: exe });
    this.#detach(tracked, "the file is being rewritten in place");
  }

  #onReplaced(exe: string, binary: TargetBinary): void {
    const same = this.#byKey.get(binaryKey(binary));
    if (
      same && same.binary.endedOffset === binary.endedOffset &&
      same.binary.buildId === binary.buildId
    ) {
      same.binary = binary; // touched or renamed, not new code
      return;
    }
    if (same) this.#detach(same, "the file was rewritten in place");
    // Processes still running the old file keep its link until they exit;
    // new processes run the new file and need a new one.
    for (const old of this.#byKey.values()) {
      if (!old.followed || old.binary.realPath !== binary.realPath) continue;
      old.followed = false;
      if (old.pids.size === 0) {
        this.#detach(old, "replaced; no process runs it");
      }
    }
    this.#log.info("target binary replaced, attaching to the new file", {
      path: exe,
    });
    try {
      this.attach(binary, true, binary.realPath);
    } catch (err) {
      this.#log.error("cannot attach to the replaced binary", {
        path: exe,
        error: (err as Error).message,
      });
    }
  }
}

/**
 * True when two file versions (change time, modification time, size) have
 * the same content: only the change time differs after chmod, chown or a
 * new link, and a content write moves the modification time or the size.
 */
function sameContent(a: string, b: string): boolean {
  return a.slice(a.indexOf(":")) === b.slice(b.indexOf(":"));
}
