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
 * looked at in /proc, in the order of the events. Binaries are read by the
 * inspector (inspector.ts): once per version however often they are
 * executed, in a bounded queue, likely SDK-linked ones of wanted processes
 * first; while a binary waits to be read, the events go on being handled,
 * and its processes are looked at again once it is read. An exec of a
 * binary already judged is decided without a system call. A binary found
 * without the probe point is ruled out in the kernel too (for that exact
 * identity and change time), so its later execs and exits do not wake the
 * controller; the kernel reports exits only of processes still undecided or
 * traced. Events the kernel's ring had no room for are counted there,
 * warned about, and followed by a /proc rescan to catch up; meanwhile
 * {@linkcode Targets.discovery} says discovery lags (for /readyz). Without
 * exec events (an older kernel or a refused program), /proc is rescanned
 * every second instead.
 *
 * A change of a traced binary's metadata only (chmod, chown, a new link:
 * the change time moves, the content's modification time and size do not)
 * keeps its link; a binary rewritten with other code is detached and
 * attached again through any process or path that shows the new file.
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
  type ExecEventsOptions,
  openExecEvents,
  type Probe,
  sameBinary,
} from "../probe/mod.ts";

import {
  execName,
  fileName,
  Inspector,
  likelySdkBytes,
  Priority,
  type Verdict,
} from "./inspector.ts";
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
  /** How process starts are watched (for executables and `all`). */
  execEvents?: ExecEventsOptions;
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
  /** How process starts are watched, as the spec gave it. */
  execEvents?: ExecEventsOptions;
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
    execEvents: spec.execEvents,
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
/**
 * How long after exec events were lost the catch-up rescan starts: the
 * storm that overflowed the ring may go on, and one rescan after a pause
 * catches up on more of it than many during it.
 */
const catchUpDelayMs = 500;
/**
 * Files smaller than this are not read: they cannot hold a Go program (an
 * empty `func main() {}` built with -ldflags='-s -w' is 1.2 MB on x86_64
 * and arm64 with Go 1.26), let alone one that links the SDK.
 */
const tooSmallForGo = 512 << 10;
/** Pids whose latest exec is remembered (see Targets.#latestExec). */
const latestExecLimit = 65_536;
/** How long the controller's tasks run back to back before other work gets a turn (ms). */
const taskSliceMs = 20;
/** Discovery lags (not ready) once a binary has waited this long to be read. */
const lagMs = 2_000;

/** The lanes of the controller's tasks: the first runs before the later. */
const Lane = { first: 0, later: 1 } as const;
type Lane = typeof Lane[keyof typeof Lane];

/** How discovery keeps up, for readiness, metrics and the `stopped` line. */
export interface DiscoveryStats {
  /** Binaries read. */
  reads: number;
  /** Execs decided from a verdict in memory (or a read under way). */
  cacheHits: number;
  /** Binaries waiting to be read. */
  queued: number;
  /** How long the oldest of them has waited, in ms. */
  oldestQueuedMs: number;
  /** Reads dropped from a full queue (their processes are found by a rescan). */
  droppedReads: number;
  /** Exec events the kernel's ring had no room for. */
  execEventsLost: number;
  /** Why discovery lags behind the host's processes; undefined when it does not. */
  lagging?: string;
  /**
   * Processes left running a binary the probe had to be taken off (its
   * file was rewritten with other code): their spans are lost.
   */
  untraced: number;
}
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
  readonly #inspector = new Inspector();
  readonly #watchers: BinaryWatch[] = [];
  #wanted: ((file: ExeFile, pid: number) => Promise<boolean>) | undefined;
  #events: ExecEvents | undefined;
  #rescanTimer: ReturnType<typeof setInterval> | undefined;
  /** Tasks waiting their turn, by lane; one runs at a time. */
  readonly #lanes: (() => Promise<void>)[][] = [[], []];
  /**
   * The latest exec event of each pid, until its exit is handled: an exec
   * handled after a later one of the same pid (the lanes reorder them, e.g.
   * `sh -c 'exec ./server'`) must not undo what the later one did.
   */
  readonly #latestExec = new Map<number, ExecEvent>();
  #running = false;
  #rescanning: Promise<void> | undefined;
  /** Exec events lost so far, as last read from the kernel. */
  #eventsLost = 0;
  /** Reads dropped so far, as last seen. */
  #dropped = 0;
  /** Set while a catch-up rescan is due or running. */
  #catchingUp: Promise<void> | undefined;
  /** Set when more was lost after the catch-up rescan started. */
  #behind = false;
  #untraced = 0;
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

  /** How discovery keeps up right now. */
  discovery(): DiscoveryStats {
    const c = this.#inspector.counters();
    const lagging = this.#catchingUp
      ? `${this.#eventsLost} exec events lost (the ring was full) and ${c.dropped} reads dropped so far; rescanning /proc to catch up`
      : c.oldestMs > lagMs
      ? `${c.queued} binaries wait to be read, the oldest for ${
        (c.oldestMs / 1000).toFixed(1)
      } s`
      : undefined;
    return {
      reads: c.reads,
      cacheHits: c.cacheHits,
      queued: c.queued,
      oldestQueuedMs: Math.round(c.oldestMs),
      droppedReads: c.dropped,
      execEventsLost: this.#eventsLost,
      ...(lagging && { lagging }),
      untraced: this.#untraced,
    };
  }

  /** Stops watching and detaches every link. */
  close(): void {
    this.#closed = true;
    this.#inspector.close();
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
      this.#events = openExecEvents(targets.execEvents);
    } catch (err) {
      this.#log.warn(
        "cannot watch process starts; rescanning /proc every second instead",
        { error: (err as Error).message },
      );
    }
    await (await this.#rescan()).settled;
    if (this.#closed) return;
    this.#rescanTimer = setInterval(() => {
      this.#rescanning ??= this.#rescanInTurn().finally(() =>
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
          // The kernel's size of the file is a free first guess: a
          // storm of small programs waits behind a likely SDK binary.
          const lane = event.size !== undefined && event.size < likelySdkBytes
            ? Lane.later
            : Lane.first;
          this.#latestExec.delete(pid); // keeps the map in exec order
          this.#latestExec.set(pid, event);
          if (this.#latestExec.size > latestExecLimit) {
            // Pids whose exit the kernel could not report (its map full).
            this.#latestExec.delete(this.#latestExec.keys().next().value!);
          }
          this.#enqueue(() => this.#onProcess(pid, event), lane);
        } else {
          // After its exec is handled, which may be under way (in either
          // lane: #exited tells a new process that reused the pid).
          const last = this.#latestExec.get(pid);
          this.#enqueue(() => this.#exited(pid, last), Lane.later);
        }
      }
      this.#checkLost(events);
    }
  }

  /**
   * Warns about exec events the kernel had no room for, counts reads
   * dropped from a full queue, and rescans /proc to find the processes
   * they were about.
   */
  #checkLost(events: ExecEvents): void {
    if (this.#closed) return; // the counter is gone with the events
    const lost = Math.max(events.lost(), this.#eventsLost);
    const { dropped } = this.#inspector.counters();
    if (lost === this.#eventsLost && dropped === this.#dropped) return;
    if (lost > this.#eventsLost) {
      this.#log.warn("exec events lost", {
        lost: lost - this.#eventsLost,
        total: lost,
        why:
          "the exec event ring was full; processes started meanwhile are found by a /proc rescan",
      });
    }
    this.#eventsLost = lost;
    this.#dropped = dropped;
    this.#behind = true;
    this.#catchingUp ??= (async () => {
      while (this.#behind && !this.#closed) {
        this.#behind = false;
        await new Promise((r) => setTimeout(r, catchUpDelayMs));
        if (!this.#closed) await this.#rescanInTurn();
      }
    })().catch((err) =>
      this.#log.warn("cannot rescan /proc", { error: (err as Error).message })
    ).finally(() => this.#catchingUp = undefined);
  }

  /**
   * Rescans /proc in turn with the exec events, and resolves once the
   * binaries it found are read and their processes looked at.
   */
  async #rescanInTurn(): Promise<void> {
    let settled: Promise<void> = Promise.resolve();
    await this.#enqueue(async () => {
      ({ settled } = await this.#rescan());
    }, Lane.later);
    await settled;
  }

  /**
   * Runs `task` after the ones queued before it in its lane and after every
   * task of the first lane: one process at a time, so that the first binary
   * of a burst is attached soonest (its link covers every process that runs
   * it, looked at or not), and the processes of likely SDK binaries first.
   */
  #enqueue(
    task: () => Promise<void> | void,
    lane: Lane = Lane.first,
  ): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#lanes[lane].push(async () => {
      try {
        await task();
      } catch (err) {
        this.#log.warn("cannot follow a process", {
          error: (err as Error).message,
        });
      } finally {
        done.resolve();
      }
    });
    if (!this.#running) void this.#runTasks();
    return done.promise;
  }

  async #runTasks(): Promise<void> {
    this.#running = true;
    let slice = performance.now();
    for (;;) {
      const task = this.#lanes[Lane.first].shift() ??
        this.#lanes[Lane.later].shift();
      if (!task) break;
      await task();
      // Tasks decided from memory make no system call: a storm's worth of
      // them would run back to back as microtasks, and the telemetry
      // listener (/healthz) waits for the event loop. Let it in.
      if (performance.now() - slice > taskSliceMs) {
        await new Promise((r) => setTimeout(r, 0));
        slice = performance.now();
      }
    }
    this.#running = false;
  }

  /**
   * Looks at every process in /proc; resolves once each was looked at, with
   * `settled`, which resolves once the binaries that had to be read are read
   * and their processes looked at again (in turn with the events: not to be
   * awaited by a task of the queue).
   */
  async #rescan(): Promise<{ settled: Promise<void> }> {
    const pids = await listPids();
    const alive = new Set(pids);
    for (const pid of [...this.#pidKey.keys()]) {
      if (!alive.has(pid)) this.#forget(pid);
    }
    const settle: Promise<void>[] = [];
    for (const pid of pids) await this.#onProcess(pid, undefined, settle);
    return { settled: Promise.all(settle).then(() => {}) };
  }

  /**
   * Looks at what `pid` runs now and attaches to it when it is wanted.
   * `event` is the exec that brought it, if any: when the process turns out
   * not to be traced, the kernel stops watching it and, for a binary without
   * probe point, stops reporting that binary. A binary not judged yet is
   * queued to be read, and the process looked at `again` once it is, in
   * turn with the events that came meanwhile (`settle` collects those second
   * looks for a rescan).
   */
  async #onProcess(
    pid: number,
    event?: ExecEvent,
    settle?: Promise<void>[],
    again = false,
  ): Promise<void> {
    if (this.#closed) return;
    // Not the pid's latest exec: the process runs something else now, and
    // only the binary is judged.
    const current = !event || this.#latestExec.get(pid) === event;
    const exec = event?.binary && execName(event.binary);
    if (exec && event!.size !== undefined && event!.size < tooSmallForGo) {
      // Judged by the kernel's size alone: no system call, no read.
      const known = this.#inspector.known(exec) === null;
      this.#inspector.remember(exec, null);
      const path = known ? undefined : event!.path ?? "";
      this.#noProbePoint(pid, event!, current, path);
      return;
    }
    const early = exec === undefined ? undefined : this.#inspector.known(exec);
    if (early === null) {
      // Judged before: no system call (an exec storm's every repeat).
      this.#noProbePoint(pid, event!, current);
      return;
    }
    if (early instanceof Promise && !again) {
      return this.#lookAgain(early, pid, event, settle);
    }
    if (!current) {
      this.#ruleOutGone(event!);
      return;
    }
    const file = await exeFile(pid);
    const before = this.#pidKey.get(pid);
    const key = file && `${file.dev}:${file.ino}`;
    if (before !== undefined && before !== key) this.#forget(pid);
    if (!file || !key) {
      // Gone already: its binary is read in the background.
      if (event) this.#ruleOutGone(event);
      return;
    }
    const tracked = this.#byInode.get(key);
    if (
      tracked &&
      (tracked.followed || sameContent(tracked.binary.version, file.version))
    ) {
      // A followed file rewritten in place is handled by its watch; a
      // change of metadata only (chmod) keeps the link.
      this.#addPid(tracked, key, pid);
      return;
    }
    const names = [fileName(file)];
    if (exec && event?.binary && sameBinary(event.binary, file)) {
      names.push(exec);
    }
    const wanted = this.#wanted !== undefined &&
      await this.#wanted(file, pid);
    if (!wanted) {
      if (event) this.#unwatch(pid);
      // Read after the wanted ones: a binary without probe point is then
      // ruled out in the kernel, filter or not.
      if (event?.binary) {
        const binary = event.binary;
        this.#background(
          this.#inspector.inspect(
            names,
            Priority.ruleOut,
            () => this.#read(`/proc/${pid}/exe`, file, pid),
          ).then((verdict) => {
            if (verdict === null && names.includes(exec!)) {
              this.#ruleOut(binary, file.path);
            }
          }),
        );
      }
      return;
    }
    let verdict: Verdict | Promise<Verdict | undefined> | undefined;
    for (const name of names) verdict ??= this.#inspector.known(name);
    if (verdict === undefined || verdict instanceof Promise) {
      // Unreadable, or dropped from a full queue: a rescan finds it again.
      if (again) return;
      return this.#lookAgain(
        verdict ?? this.#inspector.inspect(
          names,
          file.size >= likelySdkBytes ? Priority.likelySdk : Priority.wanted,
          () => this.#read(`/proc/${pid}/exe`, file, pid),
        ),
        pid,
        event,
        settle,
      );
    }
    for (const name of names) this.#inspector.remember(name, verdict);
    if (verdict === null) {
      // The kernel's identity is ruled out only when it is this file's.
      if (event && names.length > 1) {
        this.#noProbePoint(pid, event, true, file.path);
      } else if (event) this.#unwatch(pid);
      return;
    }
    if (tracked) {
      if (
        tracked.binary.endedOffset === verdict.endedOffset &&
        tracked.binary.buildId === verdict.buildId
      ) {
        // Touched (new modification time), not new code.
        tracked.binary = { ...verdict, path: tracked.binary.path };
        this.#addPid(tracked, key, pid);
        return;
      }
      // New code at the old inode: the old offset may be mid-instruction.
      // Its processes run the same inode: the new link covers them.
      const running = [...tracked.pids].filter((p) => p !== pid);
      tracked.pids.clear();
      this.#detach(tracked, "the file was rewritten in place");
      const attached = this.#attachNew(verdict, file, key, pid);
      if (!attached) return this.#lose(running, file.path);
      for (const p of [pid, ...running]) this.#addPid(attached, key, p);
      return;
    }
    const attached = this.#attachNew(verdict, file, key, pid);
    if (attached) this.#addPid(attached, key, pid);
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

  /**
   * Looks at `pid` again once `reading` (of its binary) is done, in turn
   * with the events that came meanwhile.
   */
  #lookAgain(
    reading: Promise<Verdict | undefined>,
    pid: number,
    event: ExecEvent | undefined,
    settle: Promise<void>[] | undefined,
  ): void {
    const looked = reading.then((verdict) =>
      this.#enqueue(
        () => this.#onProcess(pid, event, undefined, true),
        verdict ? Lane.first : Lane.later,
      )
    );
    if (settle) settle.push(looked.catch(() => {}));
    else this.#background(looked);
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
    key: string,
    pid: number,
  ): Tracked | undefined {
    const others = [...this.#pidKey].filter(([p, k]) => k === key && p !== pid)
      .map(([p]) => `/proc/${p}/exe`);
    let firstError: unknown;
    for (const path of [`/proc/${pid}/exe`, ...others, file.path]) {
      if (path === file.path) {
        try {
          const st = Deno.statSync(path);
          if (st.dev !== file.dev || st.ino !== file.ino) continue;
        } catch {
          continue;
        }
      }
      try {
        // The file as this process sees it: the one inspected may be gone.
        return this.#attachBinary({ ...binary, path }, false, file.path, pid);
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

  /** Runs `task` without waiting for it; its failure is only logged. */
  #background(task: Promise<void>): void {
    task.catch((err) =>
      this.#log.debug("cannot rule a binary out", {
        error: (err as Error).message,
      })
    );
  }

  /**
   * `pid` executed a binary without probe point: the kernel stops reporting
   * that binary and, when this is its `current` (latest) exec, the process.
   * `path` is given when the verdict is new: logged.
   */
  #noProbePoint(
    pid: number,
    event: ExecEvent,
    current: boolean,
    path?: string,
  ): void {
    if (event.binary) this.#events?.ruleOut(event.binary);
    if (path !== undefined) {
      this.#log.debug("ruled out in the kernel", { path });
    }
    if (!current) return;
    // A traced process that executed this binary no longer runs the traced one.
    if (this.#pidKey.has(pid)) this.#forget(pid);
    this.#unwatch(pid);
  }

  /** Stops the kernel reporting the exit of `pid`, which is not traced. */
  #unwatch(pid: number): void {
    if (this.#pidKey.has(pid)) return;
    this.#events?.unwatch(pid);
    this.#latestExec.delete(pid); // no exit event comes
  }

  /**
   * Reads the binary at `path` that should be `file`: null without probe
   * point, undefined when it cannot be read or turned out to be another file.
   */
  async #read(
    path: string,
    file: { dev: number; ino: number; path: string; version: string },
    pid: number,
  ): Promise<TargetBinary | null | undefined> {
    if (Number(file.version.split(":")[2]) < tooSmallForGo) return null;
    try {
      // The process may have executed something else since: then what is
      // read is not `file`, and neither a probe point nor an error is its.
      const read = await resolveTarget(path, file);
      return { ...read, realPath: file.path };
    } catch (err) {
      if (!(err instanceof TargetError)) {
        // A system call that failed may work next time; a file that the
        // reader cannot make sense of will not: judged once, not at
        // every exec.
        if (err instanceof Error && err.constructor.name in Deno.errors) {
          throw err;
        }
        this.#log.debug("not traced", {
          pid,
          path: file.path,
          why: `unreadable: ${(err as Error).message}`,
        });
        return null;
      }
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
  #ruleOutGone(event: ExecEvent): void {
    const { binary, path, ppid } = event;
    if (!binary || !path || !this.#events) return;
    const candidates = path.startsWith("/")
      ? [`/proc/${ppid}/root${path}`, path]
      : [`/proc/${ppid}/cwd/${path}`];
    this.#background((async () => {
      for (const candidate of candidates) {
        let st: Deno.FileInfo;
        try {
          st = await Deno.stat(candidate);
        } catch {
          continue;
        }
        if (!sameBinary(binary, st)) continue;
        const file = {
          dev: st.dev,
          ino: st.ino ?? 0,
          path,
          version: fileVersion(st),
        };
        const verdict = await this.#inspector.inspect(
          [fileName(file), execName(binary)],
          Priority.ruleOut,
          () => this.#read(candidate, file, event.pid),
        );
        if (verdict === null) this.#ruleOut(binary, path);
        return;
      }
    })());
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

  /**
   * An exit event of `pid`, handled after the execs of its lane: a process
   * that reused the pid meanwhile and runs the traced file is kept. `last`
   * is the latest exec of the pid when the exit came.
   */
  async #exited(pid: number, last: ExecEvent | undefined): Promise<void> {
    if (this.#latestExec.get(pid) === last) this.#latestExec.delete(pid);
    const key = this.#pidKey.get(pid);
    if (key !== undefined) {
      const file = await exeFile(pid);
      if (file && `${file.dev}:${file.ino}` === key) return;
    }
    this.#forget(pid);
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
    // A followed file's processes are about to be covered by the new link.
    if (!tracked.followed) this.#lose([...tracked.pids], tracked.label);
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

/**
 * True when two file versions (change time, modification time, size) have
 * the same content: only the change time differs after chmod, chown or a
 * new link, and a content write moves the modification time or the size.
 */
function sameContent(a: string, b: string): boolean {
  return a.slice(a.indexOf(":")) === b.slice(b.indexOf(":"));
}
