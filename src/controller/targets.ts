/**
 * Keeps the probe attached to the right binaries: one link per executable
 * file (device + inode), made once per binary however many processes run it,
 * and removed shortly after no process runs it any more (unless a `--target` path
 * names it: then it waits for the next process). When only `--pid`s are
 * given, a link is made per process instead, for that process alone: the
 * kernel puts the breakpoint in it only, so that other processes of the same
 * binary keep their NOP and their SDK sees no probe. Follows `--target`
 * paths as they are replaced or rewritten in place, finds new processes of
 * `--target` binaries and, with `--all`, of every binary that contains the
 * probe point, and keeps the kernel's pid filter in step with `--pid`.
 *
 * New processes are learnt from exec events (src/probe/exec_events.ts) and
 * looked at in /proc once each; a binary is inspected once per device, inode
 * and content version, however many processes start it at once; processes
 * are looked at one at a time, and binaries that only processes the filter
 * rejects run are read in the background, after the wanted ones (to rule
 * them out in the kernel). A binary found without the
 * probe point is ruled out in the kernel too (for that exact identity and
 * change time), so its later execs and exits do not wake the controller;
 * the kernel reports exits only of processes still undecided or traced.
 * Without exec events (an older kernel or a refused program), /proc is
 * rescanned every second instead.
 *
 * @module
 */
import { resolve as resolvePath } from "node:path";
import type { Logger } from "../log.ts";
import {
  type Attachment,
  type ExecBinary,
  type ExecEvent,
  type ExecEvents,
  openExecEvents,
  type Probe,
  sameBinary,
} from "../probe/mod.ts";

import {
  type BinaryWatch,
  containerOf,
  type ExeFile,
  exeFile,
  fileVersion,
  listPids,
  matchesFilter,
  needsContainerId,
  noFilter,
  type ProcessFilterRules,
  resolveProcessTarget,
  resolveTarget,
  type TargetBinary,
  TargetError,
  watchBinary,
} from "../process/mod.ts";

/** What the user asked to trace. */
export interface TargetSpec {
  /**
   * Executables: every process running them, now or later. A path names
   * the file at that path on this host and, in other mount namespaces
   * (containers), the file at that path as their processes see it.
   */
  exes: string[];
  /** The directory relative `exes` are resolved against (default: the current one). */
  cwd?: string;
  /** Process ids: only these processes. */
  pids: number[];
  /** Every process whose executable contains the probe point. */
  all?: boolean;
  /** Which discovered processes to trace (default: all of them). */
  filter?: ProcessFilterRules;
}

/** Targets whose binaries were found and checked, ready to attach. */
export interface ResolvedTargets {
  /** The executables to follow (absolute paths) with their binaries here. */
  exes: { path: string; binary: TargetBinary }[];
  /** The processes to trace, with the binaries they run. */
  pids: { pid: number; binary: TargetBinary }[];
  /** True for `--all`. */
  all: boolean;
  /** Which discovered processes to trace. */
  filter: ProcessFilterRules;
}

/**
 * Finds and checks every target before anything touches the kernel, so that
 * a wrong path or pid fails fast with a message naming it.
 */
export async function resolveTargets(
  spec: TargetSpec,
): Promise<ResolvedTargets> {
  const exes = [];
  for (const given of spec.exes) {
    // Errors name the path that was tried, not only the one given.
    const path = resolvePath(spec.cwd ?? Deno.cwd(), given);
    try {
      exes.push({ path, binary: await resolveTarget(path) });
    } catch (err) {
      if (err instanceof TargetError && err.kind === "not-found") {
        throw new TargetError(
          err.kind,
          `${err.message} For a program that exists only inside containers, pass --all --include-exe ${path}.`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  const pids = [];
  for (const pid of spec.pids) {
    pids.push({ pid, binary: (await resolveProcessTarget(pid)).target });
  }
  return {
    exes,
    pids,
    all: spec.all ?? false,
    filter: spec.filter ?? noFilter,
  };
}

/** A binary the probe is attached to. */
export interface AttachedBinary {
  /** The resolved binary (symbol, offset, build info). */
  binary: TargetBinary;
  /** The probe's link on it. */
  attachment: Attachment;
}

interface Tracked extends AttachedBinary {
  /** `<dev>:<ino>` of the binary, then `:<pid>` for a link of one process. */
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

/** How often /proc is rescanned: without exec events, and as a safety net with them. */
const rescanMs = { fallback: 1_000, safety: 30_000 };
/** Binaries read at once: one parses while the other waits for the disk. */
const readsAtOnce = 2;
/** Binaries remembered as inspected (with or without probe point). */
const inspectedLimit = 4096;
/**
 * How long a link outlives the last process of its binary. A program
 * restarted at once, or one started again and again for a moment (a job, a
 * health check), keeps its link: its exit is often reported before the next
 * exec, and detaching in between would take the probe away from a process
 * that may already hand off to it.
 */
const lingerMs = 2_000;

/** Attaches the probe to the targets and follows them as they change. */
export class Targets {
  readonly #probe: Probe;
  readonly #log: Logger;
  readonly #byInode = new Map<string, Tracked>();
  readonly #pidKey = new Map<number, string>();
  /** Inspections by file version, running or done: null without probe point. */
  readonly #inspected = new Map<
    string,
    Promise<TargetBinary | null | undefined>
  >();
  readonly #watchers: BinaryWatch[] = [];
  #wanted: ((file: ExeFile, pid: number) => Promise<boolean>) | undefined;
  #events: ExecEvents | undefined;
  #rescanTimer: ReturnType<typeof setInterval> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #rescanning: Promise<void> | undefined;
  /** Binaries being read, and the readings waiting for a slot. */
  #reading = 0;
  readonly #urgentReads: (() => void)[] = [];
  readonly #laterReads: (() => void)[] = [];
  #closed = false;
  readonly #onTraced: (pid: number) => void;

  /**
   * Creates the attachment manager; nothing happens until {@linkcode attach}.
   * `onTraced` hears of each process found running a traced binary, while
   * it runs: its spans may arrive after it exited, when /proc no longer
   * describes it.
   */
  constructor(
    probe: Probe,
    log: Logger,
    onTraced: (pid: number) => void = () => {},
  ) {
    this.#probe = probe;
    this.#log = log;
    this.#onTraced = onTraced;
  }

  /** The binaries currently attached. */
  get attached(): AttachedBinary[] {
    return [...this.#byInode.values()];
  }

  /**
   * Attaches to every resolved target, starts following the executables
   * and, for executables and `--all`, starts finding their processes in the
   * background (it logs "watching for new processes" once the processes
   * running now were looked at): the ring is read meanwhile.
   */
  attach(targets: ResolvedTargets): void {
    for (const { path, binary } of targets.exes) {
      this.#attachBinary(binary, true, binary.realPath);
      this.#watchers.push(
        watchBinary(binary, (next) => this.#onReplaced(path, next), {
          onRewriting: (old) => this.#onRewriting(path, old),
          onError: (err) =>
            this.#log.warn("the target binary changed but cannot be traced", {
              path,
              error: (err as Error).message,
            }),
        }),
      );
    }
    // A kernel-side filter is only right when every target is a pid: an
    // executable target wants every process that runs it.
    const pids = targets.pids.map((p) => p.pid);
    const onlyPids = !targets.all && targets.exes.length === 0;
    for (const { pid, binary } of targets.pids) {
      this.#attachBinary(binary, true, binary.realPath, pid, onlyPids);
    }
    this.#probe.setPidFilter(onlyPids && pids.length > 0 ? pids : null);
    if (onlyPids) return;
    this.#discover(targets).catch((err) => {
      this.#log.error("cannot look for the targets' processes", {
        error: (err as Error).message,
      });
    });
  }

  /** The binary a process runs, if it is one we attached to. */
  binaryOf(dev: number, ino: number): TargetBinary | undefined {
    const tracked = this.#byInode.get(`${dev}:${ino}`) ??
      // A link of one process (--pid) is keyed by its pid too.
      [...this.#byInode.values()].find((t) =>
        t.binary.dev === dev && t.binary.ino === ino
      );
    return tracked?.binary;
  }

  /** Stops watching and detaches every link. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#rescanTimer);
    this.#events?.close();
    for (const w of this.#watchers.splice(0)) w.close();
    for (const { attachment, lingering } of this.#byInode.values()) {
      clearTimeout(lingering);
      attachment.detach();
    }
    this.#byInode.clear();
    this.#pidKey.clear();
  }

  async #discover(targets: ResolvedTargets): Promise<void> {
    const { filter } = targets;
    const names = new Set<string>();
    for (const { path, binary } of targets.exes) {
      names.add(path);
      names.add(binary.realPath);
    }
    const withContainer = needsContainerId(filter);
    this.#wanted = async (file, pid) => {
      if (!targets.all && !names.has(file.path)) return false;
      const { containerId } = withContainer ? await containerOf(pid) : {};
      return matchesFilter(filter, file.path, containerId);
    };
    // Loading the exec program blocks for tens of ms (libbpf reads the
    // kernel's BTF for CO-RE): not before the caller has started reading
    // the ring and taken its baseline of the loss counters.
    await Promise.resolve();
    if (this.#closed) return;
    try {
      this.#events = openExecEvents();
    } catch (err) {
      this.#log.warn(
        "cannot watch process starts; rescanning /proc every second instead",
        { error: (err as Error).message },
      );
    }
    await this.#rescan();
    if (this.#closed) return;
    this.#rescanTimer = setInterval(() => {
      this.#rescanning ??= this.#enqueue(() => this.#rescan()).finally(() =>
        this.#rescanning = undefined
      );
    }, this.#events ? rescanMs.safety : rescanMs.fallback);
    if (this.#events) {
      const events = this.#events;
      this.#readEvents(events).catch((err) => {
        // Never seen; the slow rescan still finds new processes.
        this.#log.warn("stopped reading exec events", {
          error: (err as Error).message,
        });
        events.close();
      });
    }
    this.#log.info("watching for new processes", {
      by: this.#events ? "exec tracepoint" : "/proc rescan",
      processes: this.#pidKey.size,
    });
  }

  async #readEvents(events: ExecEvents): Promise<void> {
    while (!this.#closed) {
      // The wait ends early when events come or when close() cancels it.
      for (const event of await events.next(60_000)) {
        const { pid } = event;
        if (event.kind === "exec") {
          this.#enqueue(() => this.#onProcess(pid, event));
        } else {
          // After its exec is handled, which may be under way.
          this.#enqueue(() => this.#forget(pid));
        }
      }
    }
  }

  /**
   * Runs `task` after the ones queued before it: one process at a time, so
   * that the first binary of a burst is attached soonest (its link covers
   * every process that runs it, looked at or not).
   */
  #enqueue(task: () => Promise<void> | void): Promise<void> {
    this.#queue = this.#queue.then(task).catch((err) =>
      this.#log.warn("cannot follow a process", {
        error: (err as Error).message,
      })
    );
    return this.#queue;
  }

  async #rescan(): Promise<void> {
    const pids = await listPids();
    const alive = new Set(pids);
    for (const pid of [...this.#pidKey.keys()]) {
      if (!alive.has(pid)) this.#forget(pid);
    }
    for (const pid of pids) await this.#onProcess(pid);
  }

  /**
   * Looks at what `pid` runs now and attaches to it when it is wanted.
   * `event` is the exec that brought it, if any: when the process turns out
   * not to be traced, the kernel stops watching it and, for a binary without
   * probe point, stops reporting that binary.
   */
  async #onProcess(pid: number, event?: ExecEvent): Promise<void> {
    if (this.#closed) return;
    const file = await exeFile(pid);
    const before = this.#pidKey.get(pid);
    const key = file && `${file.dev}:${file.ino}`;
    if (before !== undefined && before !== key) this.#forget(pid);
    if (!file || !key) {
      // Gone already: its binary is read in the background.
      if (event) this.#background(this.#ruleOutGone(event));
      return;
    }
    const tracked = this.#byInode.get(key);
    if (
      tracked && (tracked.followed || tracked.binary.version === file.version)
    ) {
      // A followed file rewritten in place is handled by its watch.
      this.#addPid(tracked, key, pid);
      return;
    }
    if (tracked) {
      // Its content changed while no process ran it: a stale offset.
      this.#detach(tracked, "the file was rewritten in place");
    }
    const wanted = this.#wanted !== undefined &&
      await this.#wanted(file, pid);
    if (!wanted) {
      if (event) this.#events?.unwatch(pid);
      // Read in the background, after the wanted ones: a binary without
      // probe point is then ruled out in the kernel, filter or not.
      if (event) this.#background(this.#ruleOutLater(pid, file, event));
      return;
    }
    const inspected = await this.#inspect(pid, file, true);
    if (this.#closed) return;
    if (!inspected) {
      // null: no probe point; undefined: it could not be read (it exited
      // meanwhile: read through the path it executed, as for one gone
      // before it was looked at).
      if (inspected === null && event?.binary) {
        if (sameBinary(event.binary, file)) {
          this.#ruleOut(event.binary, file.path);
        }
      } else if (inspected === undefined && event) {
        this.#background(this.#ruleOutGone(event));
      }
      if (event) this.#events?.unwatch(pid);
      return;
    }
    // The file as this process sees it: the one inspected may be gone.
    const binary = { ...inspected, path: `/proc/${pid}/exe` };
    let attached: Tracked;
    try {
      attached = this.#attachBinary(binary, false, file.path, pid);
    } catch (err) {
      // Most likely it exited meanwhile; the next process brings it back.
      this.#log.debug("cannot attach to a new process's binary", {
        pid,
        path: file.path,
        error: (err as Error).message,
      });
      return;
    }
    this.#addPid(attached, key, pid);
  }

  /** Runs `task` without waiting for it; its failure is only logged. */
  #background(task: Promise<void>): void {
    task.catch((err) =>
      this.#log.debug("cannot rule a binary out", {
        error: (err as Error).message,
      })
    );
  }

  /**
   * For a process the filter rejects: reads its binary (when nothing else
   * waits) and rules it out if it has no probe point, through the path it
   * executed when it has exited meanwhile.
   */
  async #ruleOutLater(
    pid: number,
    file: ExeFile,
    event: ExecEvent,
  ): Promise<void> {
    const inspected = await this.#inspect(pid, file, false);
    if (inspected === undefined) await this.#ruleOutGone(event);
    else if (inspected === null && event.binary) {
      if (sameBinary(event.binary, file)) {
        this.#ruleOut(event.binary, file.path);
      }
    }
  }

  /**
   * Reads the binary `pid` runs, once per file version (processes starting
   * it meanwhile wait for the same reading): null without probe point,
   * undefined when it cannot be read (then it is not remembered) — never
   * a verdict to rule a binary out on.
   */
  #inspect(
    pid: number,
    file: ExeFile,
    urgent: boolean,
  ): Promise<TargetBinary | null | undefined> {
    const version = `${file.dev}:${file.ino}:${file.version}`;
    const known = this.#inspected.get(version);
    if (known) return known;
    const reading = this.#readSlot(
      () => this.#read(`/proc/${pid}/exe`, file, pid),
      urgent,
    ).then(
      (binary) => {
        if (binary === undefined) this.#inspected.delete(version);
        return binary;
      },
      (err) => {
        this.#inspected.delete(version);
        throw err;
      },
    );
    if (this.#inspected.size >= inspectedLimit) {
      this.#inspected.delete(this.#inspected.keys().next().value!);
    }
    this.#inspected.set(version, reading);
    return reading;
  }

  /**
   * Runs `read` when one of {@linkcode readsAtOnce} slots is free, first come
   * first served, `urgent` ones (processes the filter wants) before the
   * others (read only to rule binaries out): reading is mostly parsing on
   * this one thread, so reading every binary of a burst at once would finish
   * them all late, while in turn the first is attached (for all its
   * processes) soonest.
   */
  async #readSlot<T>(read: () => Promise<T>, urgent: boolean): Promise<T> {
    if (this.#reading < readsAtOnce) this.#reading++;
    else {
      // The slot is handed over, still counted, by the reading that ends.
      await new Promise<void>((r) =>
        (urgent ? this.#urgentReads : this.#laterReads).push(r)
      );
    }
    try {
      return await read();
    } finally {
      const next = this.#urgentReads.shift() ?? this.#laterReads.shift();
      if (next) next();
      else this.#reading--;
    }
  }

  /**
   * Reads the binary at `path` that should be `file`: null without probe
   * point, undefined when it cannot be read or turned out to be another file.
   */
  async #read(
    path: string,
    file: { dev: number; ino: number; path: string },
    pid: number,
  ): Promise<TargetBinary | null | undefined> {
    try {
      // The process may have executed something else since: then what is
      // read is not `file`, and neither a probe point nor an error is its.
      const read = await resolveTarget(path, file);
      return { ...read, realPath: file.path };
    } catch (err) {
      if (!(err instanceof TargetError)) throw err;
      if (err.kind === "not-found" || err.kind === "access-denied") {
        return undefined;
      }
      if (err.kind === "too-large") {
        // A crafted binary, refused before it cost memory: said once, as
        // its verdict is remembered for this version of the file.
        this.#log.warn("binary refused", {
          pid,
          path: file.path,
          error: err.message,
        });
      } else {
        this.#log.debug("not traced", { pid, path: file.path, why: err.kind });
      }
      return null;
    }
  }

  /**
   * For a process that exited before it was looked at: reads its binary
   * through the path it executed, as its parent sees it, and rules the
   * binary out when it has no probe point and is the very file the kernel
   * named (the path may name another one by now, or in another namespace).
   */
  async #ruleOutGone(event: ExecEvent): Promise<void> {
    const { binary, path, ppid } = event;
    if (!binary || !path || !this.#events) return;
    const candidates = path.startsWith("/")
      ? [`/proc/${ppid}/root${path}`, path]
      : [`/proc/${ppid}/cwd/${path}`];
    for (const candidate of candidates) {
      let st: Deno.FileInfo;
      try {
        st = await Deno.stat(candidate);
      } catch {
        continue;
      }
      if (!sameBinary(binary, st)) continue;
      const file = { dev: st.dev, ino: st.ino ?? 0, path };
      const version = `${file.dev}:${file.ino}:${fileVersion(st)}`;
      const verdict = await (this.#inspected.get(version) ??
        this.#readSlot(() => this.#read(candidate, file, event.pid), false));
      if (verdict === null) this.#ruleOut(binary, path);
      return;
    }
  }

  /** Stops the kernel reporting execs of `binary`, which has no probe point. */
  #ruleOut(binary: ExecBinary, path: string): void {
    this.#events?.ruleOut(binary);
    this.#log.debug("ruled out in the kernel", { path });
  }

  #addPid(tracked: Tracked, key: string, pid: number): void {
    if (this.#pidKey.get(pid) === key) return;
    tracked.pids.add(pid);
    this.#pidKey.set(pid, key);
    // Found by a rescan, the kernel does not watch it yet.
    this.#events?.watch(pid);
    this.#onTraced(pid);
  }

  /** `pid` exited or executes another file now. */
  #forget(pid: number): void {
    const key = this.#pidKey.get(pid);
    this.#pidKey.delete(pid);
    const tracked = key === undefined ? undefined : this.#byInode.get(key);
    if (!tracked) return;
    tracked.pids.delete(pid);
    if (tracked.pids.size > 0 || tracked.followed || tracked.lingering) return;
    tracked.lingering = setTimeout(() => {
      tracked.lingering = undefined;
      // In turn with the exec events queued meanwhile.
      this.#enqueue(() => {
        if (tracked.pids.size === 0 && !tracked.followed) {
          this.#detach(tracked, "no process runs it");
        }
      });
    }, lingerMs);
  }

  /**
   * Attaches to `binary` (found running as `pid`) for every process that
   * runs it or, with `onlyPid`, for process `pid` alone.
   */
  #attachBinary(
    binary: TargetBinary,
    followed: boolean,
    label: string,
    pid?: number,
    onlyPid = false,
  ): Tracked {
    const scope = onlyPid && pid !== undefined ? pid : -1;
    const key = `${binary.dev}:${binary.ino}${scope === -1 ? "" : `:${scope}`}`;
    const known = this.#byInode.get(key);
    if (known) {
      known.followed ||= followed;
      return known;
    }
    const attachment = this.#probe.attach(
      binary.path,
      binary.endedOffset,
      scope,
    );
    const tracked: Tracked = {
      key,
      binary,
      attachment,
      label,
      pids: new Set(),
      followed,
    };
    this.#byInode.set(key, tracked);
    this.#log.info("attached", {
      path: label,
      symbol: binary.endedSymbol,
      offset: binary.endedOffset,
      go: binary.build?.goVersion,
      ...(pid !== undefined && { pid }),
      ...(scope !== -1 && { perProcess: true }),
    });
    return tracked;
  }

  #detach(tracked: Tracked, reason: string): void {
    if (this.#byInode.get(tracked.key) !== tracked) return;
    clearTimeout(tracked.lingering);
    this.#byInode.delete(tracked.key);
    for (const pid of tracked.pids) this.#pidKey.delete(pid);
    tracked.attachment.detach();
    this.#log.info("detached", { path: tracked.label, reason });
  }

  #onRewriting(exe: string, old: TargetBinary): void {
    // Before any process runs the new content with the probe at the old
    // offset, which there may be the middle of an instruction.
    const tracked = this.#byInode.get(`${old.dev}:${old.ino}`);
    if (!tracked) return;
    this.#log.info("target binary is being rewritten in place", { path: exe });
    this.#detach(tracked, "the file is being rewritten in place");
  }

  #onReplaced(exe: string, binary: TargetBinary): void {
    const key = `${binary.dev}:${binary.ino}`;
    const same = this.#byInode.get(key);
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
    for (const old of this.#byInode.values()) {
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
      this.#attachBinary(binary, true, binary.realPath);
    } catch (err) {
      this.#log.error("cannot attach to the replaced binary", {
        path: exe,
        error: (err as Error).message,
      });
    }
  }
}
