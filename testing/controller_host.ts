/**
 * A machine in memory for the attachment manager's tests, which need no
 * root and no eBPF: files with or without the probe point, processes that
 * run them, the kernel's exec events, the probe's links, the reads of
 * binaries (which a test can hold to make them slow), and the log.
 * Test support only: product code never imports it.
 *
 * @module
 */
import type { LogFields, Logger } from "../src/log.ts";
import type {
  Attachment,
  ExecBinary,
  ExecEvent,
  ExecEvents,
} from "../src/probe/mod.ts";
import {
  type ExeFile,
  fileVersion,
  type TargetBinary,
  TargetError,
} from "../src/process/mod.ts";
import type { Host } from "../src/controller/targets.ts";

/** A file of the fake machine. */
export interface FakeFile {
  path: string;
  dev: number;
  ino: number;
  /** Change time, whole seconds (a rewrite moves it by one). */
  ctimeSec: number;
  /** Modification time (ms). */
  mtime: number;
  size: number;
  /** The probe point's offset; undefined for a program without the SDK. */
  offset?: number;
  buildId: string;
}

/**
 * How a file under a container's overlay looks through it: the overlay
 * mount's device and the inode number overlayfs reports (the real file's,
 * or for a copied-up file, that of the file it was copied from).
 */
export interface OverlayView {
  dev: number;
  ino: number;
}

/** A link the fake probe made (on the real file, as the kernel does). */
export interface FakeLink {
  path: string;
  dev: number;
  ino: number;
  offset: number;
  pid: number;
  active: boolean;
}

/** A log line the fake logger kept. */
export interface FakeLogLine {
  level: string;
  msg: string;
  fields?: LogFields;
}

/** Megabytes: SDK-linked binaries in the tests are a few. */
export const MB = 1 << 20;

/** Waits until `cond` holds, failing after `ms` with `what`. */
export async function waitFor(
  cond: () => boolean,
  what: string,
  ms = 5_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Files, processes, exec events, links and log of one test. */
export class FakeMachine {
  readonly files = new Map<string, FakeFile>();
  readonly processes = new Map<
    number,
    { path: string; file: FakeFile; view?: OverlayView; shown?: FakeFile }
  >();
  readonly links: FakeLink[] = [];
  readonly logs: FakeLogLine[] = [];
  /** Every read of a binary, by the path it was read through. */
  readonly reads: string[] = [];
  readonly ruledOut: ExecBinary[] = [];
  readonly unwatched = new Set<number>();
  readonly watched = new Set<number>();
  pidFilter: number[] | null | undefined;
  /** Exec events lost, as the kernel would count them. */
  lost = 0;
  /** Set to make the exec events fail to open (an older kernel). */
  noEvents = false;
  /** The callbacks of followed paths, by path. */
  readonly watches = new Map<string, {
    replaced: (next: TargetBinary) => void;
    rewriting: (old: TargetBinary) => void;
  }>();
  #ino = 1000;
  #queue: ExecEvent[] = [];
  #wake: (() => void) | undefined;
  #eventsClosed = false;
  #gate: Promise<void> | undefined;

  /** Creates a file at `path`, on a new inode. */
  file(
    path: string,
    options: { size: number; offset?: number; buildId?: string },
  ): FakeFile {
    const f: FakeFile = {
      path,
      dev: 5,
      ino: this.#ino++,
      ctimeSec: 1_000,
      mtime: 1_000_000,
      size: options.size,
      offset: options.offset,
      buildId: options.buildId ?? `${path}@1`,
    };
    this.files.set(path, f);
    return f;
  }

  /** Rewrites `path` in place (same inode) with other code. */
  rewrite(path: string, offset: number | undefined, buildId: string): void {
    const f = this.files.get(path)!;
    f.ctimeSec++;
    f.mtime += 1_000;
    f.size += 4096;
    f.offset = offset;
    f.buildId = buildId;
  }

  /** Process `pid` executes `path` now; the kernel reports it. */
  exec(pid: number, path: string, ppid = 1): void {
    const file = this.files.get(path)!;
    this.processes.set(pid, { path, file });
    this.unwatched.delete(pid);
    this.#push({
      pid,
      kind: "exec",
      ppid,
      binary: {
        ino: BigInt(file.ino),
        dev: file.dev,
        generation: 0,
        ctimeSec: BigInt(file.ctimeSec),
        ctimeNsec: 0,
      },
      size: file.size,
      path,
    });
  }

  /**
   * Process `pid` of a container executes `path` of its image: the real
   * file `file` under the container's overlay, which shows it as `view`
   * (default: the overlay with device `view.dev` and the real inode
   * number). The kernel reports the overlay's inode, as it does.
   */
  execInContainer(
    pid: number,
    path: string,
    file: FakeFile,
    view: { dev: number; ino?: number },
  ): void {
    const shown = { dev: view.dev, ino: view.ino ?? file.ino };
    this.processes.set(pid, { path, file, view: shown });
    this.unwatched.delete(pid);
    this.#push({
      pid,
      kind: "exec",
      ppid: 1,
      binary: {
        ino: BigInt(shown.ino),
        dev: shown.dev,
        generation: 0,
        ctimeSec: BigInt(file.ctimeSec),
        ctimeNsec: 0,
      },
      size: file.size,
      path,
    });
  }

  /**
   * The container of `pid` copies its file up (a chmod in it) to `upper`:
   * stat through the process's path shows the copy from now on, with the
   * inode number of the file it came from, while the process still runs
   * (maps) the file it executed. No event: nothing executes.
   */
  copyUp(pid: number, upper: FakeFile): void {
    this.processes.get(pid)!.shown = upper;
  }

  /** Process `pid` exits; the kernel reports it unless told not to. */
  exit(pid: number): void {
    this.processes.delete(pid);
    if (!this.unwatched.has(pid)) this.#push({ pid, kind: "exit" });
  }

  /** Holds every read of a binary until the returned function is called. */
  holdReads(): () => void {
    const gate = Promise.withResolvers<void>();
    this.#gate = gate.promise;
    return () => {
      this.#gate = undefined;
      gate.resolve();
    };
  }

  /** The links still attached. */
  active(): FakeLink[] {
    return this.links.filter((l) => l.active);
  }

  /** Log lines at `level` whose message is `msg`. */
  logged(level: string, msg: string): FakeLogLine[] {
    return this.logs.filter((l) => l.level === level && l.msg === msg);
  }

  /** The fake probe. */
  readonly probe = {
    attach: (path: string, offset: number, pid = -1): Attachment => {
      const f = this.#resolve(path);
      if (!f) throw new Error(`Cannot attach to ${path}: no such file.`);
      const link: FakeLink = {
        path,
        dev: f.dev,
        ino: f.ino,
        offset,
        pid,
        active: true,
      };
      this.links.push(link);
      return {
        key: `${f.dev}_${f.ino}_${offset}${pid === -1 ? "" : `_${pid}`}`,
        dev: f.dev,
        ino: f.ino,
        offset,
        pid,
        path,
        detach: () => link.active = false,
      };
    },
    setPidFilter: (pids: number[] | null) => this.pidFilter = pids,
  };

  /** A logger that keeps every line. */
  readonly log: Logger = {
    debug: (msg, fields) => this.logs.push({ level: "debug", msg, fields }),
    info: (msg, fields) => this.logs.push({ level: "info", msg, fields }),
    warn: (msg, fields) => this.logs.push({ level: "warn", msg, fields }),
    error: (msg, fields) => this.logs.push({ level: "error", msg, fields }),
  };

  /** The machine as the attachment manager reaches it. */
  readonly host: Host = {
    processes: {
      openEvents: () => {
        if (this.noEvents) throw new Error("exec events refused (fake)");
        return this.#events();
      },
      listPids: () =>
        Promise.resolve([...this.processes.keys()].sort((a, b) => a - b)),
      exeFile: (pid) => Promise.resolve(this.#exeFile(pid)),
      containerOf: () => Promise.resolve({}),
    },
    binaries: {
      stat: (path) => {
        const f = this.#resolve(path);
        if (!f) return Promise.reject(new Deno.errors.NotFound(path));
        return Promise.resolve(
          {
            dev: f.dev,
            ino: f.ino,
            ctime: new Date(f.ctimeSec * 1000),
            mtime: new Date(f.mtime),
            size: f.size,
          } as Deno.FileInfo,
        );
      },
      read: async (path, expect) => {
        this.reads.push(path);
        const f = this.#resolve(path);
        const id = this.#shown(path);
        if (!f || id?.dev !== expect.dev || id.ino !== expect.ino) {
          throw new TargetError("not-found", `${path} is gone (fake)`);
        }
        // What was read is the content when the read began.
        const { offset, buildId } = f;
        const version = versionOf(f);
        await this.#gate;
        if (offset === undefined) {
          throw new TargetError("no-probe-point", `${path}: no SDK (fake)`);
        }
        return {
          path,
          realPath: f.path,
          dev: id.dev,
          ino: id.ino,
          version,
          buildId,
          arch: "x86_64",
          endedSymbol: "ended",
          endedAddress: offset,
          endedOffset: offset,
          stripped: false,
          build: undefined,
        };
      },
    },
    links: {
      isFile: (path, id) => {
        const f = this.#resolve(path);
        return f !== undefined && f.dev === id.dev && f.ino === id.ino;
      },
      watch: (target, replaced, options = {}) => {
        this.watches.set(target.realPath, {
          replaced,
          rewriting: options.onRewriting ?? (() => {}),
        });
        return { close: () => this.watches.delete(target.realPath) };
      },
    },
  };

  #exeFile(pid: number): ExeFile | undefined {
    const p = this.processes.get(pid);
    if (!p) return undefined;
    const f = p.shown ?? p.file;
    return {
      path: p.path,
      dev: p.view?.dev ?? f.dev,
      ino: p.view?.ino ?? f.ino,
      version: versionOf(f),
      ctime: new Date(f.ctimeSec * 1000),
      size: f.size,
      ...(p.view && { overlay: true }),
    };
  }

  /** The device and inode stat shows for `path` (through an overlay, its view). */
  #shown(path: string): OverlayView | undefined {
    const exe = /^\/proc\/(\d+)\/exe$/.exec(path);
    const p = exe ? this.processes.get(Number(exe[1])) : undefined;
    if (p?.view) return p.view;
    const f = this.#resolve(path);
    return f && { dev: f.dev, ino: f.ino };
  }

  /** The file a path names: /proc/<pid>/exe, /proc/<pid>/root/<path> or a path. */
  #resolve(path: string): FakeFile | undefined {
    const exe = /^\/proc\/(\d+)\/exe$/.exec(path);
    if (exe) {
      const p = this.processes.get(Number(exe[1]));
      return p?.shown ?? p?.file;
    }
    return this.files.get(path.replace(/^\/proc\/\d+\/(root|cwd\/)/, ""));
  }

  #push(event: ExecEvent): void {
    this.#queue.push(event);
    this.#wake?.();
  }

  #events(): ExecEvents {
    return {
      next: async (timeoutMs) => {
        if (this.#queue.length === 0 && !this.#eventsClosed) {
          const woken = Promise.withResolvers<void>();
          this.#wake = woken.resolve;
          const timer = setTimeout(woken.resolve, timeoutMs);
          await woken.promise;
          clearTimeout(timer);
          this.#wake = undefined;
        }
        return this.#queue.splice(0);
      },
      ruleOut: (binary) => this.ruledOut.push(binary),
      watch: (pid) => this.watched.add(pid),
      unwatch: (pid) => this.unwatched.add(pid),
      lost: () => this.lost,
      close: () => {
        this.#eventsClosed = true;
        this.#wake?.();
      },
    };
  }
}

function versionOf(f: FakeFile): string {
  return fileVersion({
    ctime: new Date(f.ctimeSec * 1000),
    mtime: new Date(f.mtime),
    size: f.size,
  });
}
