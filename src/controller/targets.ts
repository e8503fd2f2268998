/**
 * Keeps the probe attached to the right binaries: follows `--target` paths,
 * finds new processes of `--target` binaries and, with `--all`, of every
 * binary that contains the probe point, and keeps the kernel's pid filter in
 * step with `--pid`. When only `--pid`s are given, a link is made per
 * process instead, for that process alone: the kernel puts the breakpoint in
 * it only, so that other processes of the same binary keep their NOP and
 * their SDK sees no probe.
 *
 * The parts, each in its own file: discovery.ts brings new processes (exec
 * events or /proc rescans), binaries.ts judges their binaries (once per
 * version, on the inspector's bounded queue), attachments.ts keeps the
 * links, lanes.ts orders the work. Here, each process is looked at in turn:
 * while its binary waits to be read, the events go on being handled, and
 * the process is looked at again once it is read. An exec of a binary
 * already judged is decided without a system call. A binary found without
 * the probe point is ruled out in the kernel too (for that exact identity
 * and change time), so its later execs and exits do not wake the
 * controller; the kernel reports exits only of processes still undecided or
 * traced.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type {
  ExecBinary,
  ExecEvent,
  ExecEventsOptions,
  Probe,
} from "../probe/mod.ts";
import {
  type ExeFile,
  matchesFilter,
  needsContainerId,
  type ResolvedTargets,
  type TargetBinary,
} from "../process/mod.ts";
import {
  type AttachedBinary,
  Attachments,
  binaryKey,
  hostLinkFiles,
  type LinkFiles,
} from "./attachments.ts";
import { Binaries, type BinaryFiles, hostBinaryFiles } from "./binaries.ts";
import { Discovery, hostProcesses, type ProcessSource } from "./discovery.ts";
import type { Verdict } from "./inspector.ts";
import { Lane, Lanes } from "./lanes.ts";

export type { AttachedBinary } from "./attachments.ts";

/** What the attachment manager reaches of the machine; a test fakes it. */
export interface Host {
  /** Processes: exec events and /proc. */
  processes: ProcessSource;
  /** Binaries read to judge them. */
  binaries: BinaryFiles;
  /** Files attached to and followed. */
  links: LinkFiles;
}

/** This machine. */
export const realHost: Host = {
  processes: hostProcesses,
  binaries: hostBinaryFiles,
  links: hostLinkFiles,
};

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

/** What {@linkcode Targets} tells its owner of the processes it traces. */
export interface TargetsHooks {
  /**
   * A process was found running a traced binary, while it runs: its spans
   * may arrive after it exited, when /proc no longer describes it.
   */
  traced?(pid: number): void;
  /**
   * Reads who process `pid` is (for its spans' resource). Awaited before a
   * link goes on its binary for it: a process that waits for the probe
   * (the SDK's WaitAttached) can then emit and exit at once and still be
   * known. Must not throw.
   */
  describe?(pid: number): Promise<unknown>;
  /**
   * Process `pid` executed a program (an exec event, heard before the
   * process is looked at): what was read of it may describe the one before.
   */
  execed?(pid: number): void;
}

/** Discovery lags (not ready) once a binary has waited this long to be read. */
const lagMs = 2_000;

/** Attaches the probe to the targets and follows them as they change. */
export class Targets {
  readonly #probe: Pick<Probe, "attach" | "setPidFilter">;
  readonly #log: Logger;
  readonly #host: Host;
  readonly #lanes: Lanes;
  readonly #links: Attachments;
  readonly #binaries: Binaries;
  readonly #discovery: Discovery;
  readonly #hooks: TargetsHooks;
  #wanted: ((file: ExeFile, pid: number) => Promise<boolean>) | undefined;
  #closed = false;

  /**
   * Creates the attachment manager; nothing happens until {@linkcode attach}.
   * `hooks` hear of the traced processes; `host` is the machine (a test's
   * fake).
   */
  constructor(
    probe: Pick<Probe, "attach" | "setPidFilter">,
    log: Logger,
    hooks: TargetsHooks = {},
    host: Host = realHost,
  ) {
    this.#probe = probe;
    this.#log = log;
    this.#host = host;
    this.#hooks = hooks;
    this.#lanes = new Lanes((err) =>
      log.warn("cannot follow a process", { error: (err as Error).message })
    );
    this.#binaries = new Binaries(host.binaries, log);
    this.#links = new Attachments(probe, host.links, log, {
      traced: (pid) => {
        // Found by a rescan, the kernel does not watch it yet.
        this.#discovery.watch(pid);
        hooks.traced?.(pid);
      },
      inTurn: (task) => void this.#lanes.enqueue(task),
    });
    this.#discovery = new Discovery(host.processes, log, {
      exec: (event, lane) => {
        hooks.execed?.(event.pid);
        void this.#lanes.enqueue(() => this.#onProcess(event.pid, event), lane);
      },
      exit: (pid, last) =>
        void this.#lanes.enqueue(() => this.#exited(pid, last), Lane.later),
      rescan: () => this.#rescanInTurn(),
      dropped: () => this.#binaries.counters().dropped,
    });
  }

  /** The binaries currently attached. */
  get attached(): AttachedBinary[] {
    return this.#links.attached;
  }

  /**
   * Attaches to every resolved target, starts following the executables
   * and, for executables and `--all`, starts finding their processes in the
   * background (it logs "watching for new processes" once the processes
   * running now were looked at): the ring is read meanwhile.
   */
  attach(targets: ResolvedTargets, execEvents?: ExecEventsOptions): void {
    for (const { path, binary } of targets.exes) {
      this.#links.follow(path, binary);
    }
    // A kernel-side filter is only right when every target is a pid: an
    // executable target wants every process that runs it.
    const pids = targets.pids.map((p) => p.pid);
    const onlyPids = !targets.all && targets.exes.length === 0;
    for (const { pid, binary } of targets.pids) {
      this.#links.attach(binary, true, binary.realPath, pid, onlyPids);
    }
    this.#probe.setPidFilter(onlyPids && pids.length > 0 ? pids : null);
    if (onlyPids) return;
    this.#discover(targets, execEvents).catch((err) => {
      this.#log.error("cannot look for the targets' processes", {
        error: (err as Error).message,
      });
    });
  }

  /** The binary process `pid` runs (device and inode), if one we attached to. */
  binaryOf(dev: number, ino: number, pid?: number): TargetBinary | undefined {
    return this.#links.binaryOf(dev, ino, pid);
  }

  /** How discovery keeps up right now. */
  discovery(): DiscoveryStats {
    const c = this.#binaries.counters();
    const lost = this.#discovery.eventsLost;
    const lagging = this.#discovery.catchingUp
      ? `${lost} exec events lost (the ring was full) and ${c.dropped} reads dropped so far; rescanning /proc to catch up`
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
      execEventsLost: lost,
      ...(lagging && { lagging }),
      untraced: this.#links.untraced,
    };
  }

  /** Stops watching and detaches every link. */
  close(): void {
    this.#closed = true;
    this.#binaries.close();
    this.#discovery.close();
    this.#links.close();
  }

  async #discover(
    targets: ResolvedTargets,
    execEvents: ExecEventsOptions | undefined,
  ): Promise<void> {
    const { filter } = targets;
    const names = new Set<string>();
    for (const { path, binary } of targets.exes) {
      names.add(path);
      names.add(binary.realPath);
    }
    const withContainer = needsContainerId(filter);
    const processes = this.#host.processes;
    this.#wanted = async (file, pid) => {
      if (!targets.all && !names.has(file.path)) return false;
      const { containerId } = withContainer
        ? await processes.containerOf(pid)
        : {};
      return matchesFilter(filter, file.path, containerId);
    };
    // Loading the exec program blocks for tens of ms (libbpf reads the
    // kernel's BTF for CO-RE): not before the caller has started reading
    // the ring and taken its baseline of the loss counters.
    await Promise.resolve();
    if (this.#closed) return;
    this.#discovery.open(execEvents);
    await (await this.#rescan()).settled;
    if (this.#closed) return;
    this.#discovery.follow();
    this.#log.info("watching for new processes", {
      by: this.#discovery.by,
      processes: this.#links.processes,
    });
  }

  /**
   * Rescans /proc in turn with the exec events, and resolves once the
   * binaries it found are read and their processes looked at.
   */
  async #rescanInTurn(): Promise<void> {
    let settled: Promise<void> = Promise.resolve();
    await this.#lanes.enqueue(async () => {
      ({ settled } = await this.#rescan());
    }, Lane.later);
    await settled;
  }

  /**
   * Looks at every process in /proc; resolves once each was looked at, with
   * `settled`, which resolves once the binaries that had to be read are read
   * and their processes looked at again (in turn with the events: not to be
   * awaited by a task of the queue).
   */
  async #rescan(): Promise<{ settled: Promise<void> }> {
    const pids = await this.#host.processes.listPids();
    const alive = new Set(pids);
    for (const pid of this.#links.pids()) {
      if (!alive.has(pid)) this.#links.forget(pid);
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
    const current = !event || this.#discovery.latest(pid) === event;
    const early = this.#binaries.ofExec(event);
    if (early !== undefined && early !== null && "ruledOut" in early) {
      // Judged by the kernel's size alone, or before (an exec storm's every
      // repeat): no system call, no read.
      const path = early.ruledOut === "new" ? event!.path ?? "" : undefined;
      return this.#noProbePoint(pid, event!, current, path);
    }
    if (early instanceof Promise && !again) {
      return this.#lookAgain(early, pid, event, settle);
    }
    if (!current) return this.#ruleOutGone(event!);
    const file = await this.#host.processes.exeFile(pid);
    const before = this.#links.keyOf(pid);
    if (!event && file?.overlay && this.#links.ranBy(pid)?.ino === file.ino) {
      // No exec since: it runs the file it ran. Through an overlay, stat
      // shows a copy made since in its container (a chmod there: a new
      // file, with the inode number of the one it came from and a new
      // change time), which is not the file the process runs. (An exec of
      // that copy whose event was lost is the rarer case.)
      return;
    }
    if (before !== undefined && (!file || before !== binaryKey(file))) {
      this.#links.forget(pid);
    }
    if (!file) {
      // Gone already: its binary is read in the background.
      if (event) this.#ruleOutGone(event);
      return;
    }
    if (this.#links.covers(file, pid)) return;
    const names = this.#binaries.namesOf(file, event);
    const wanted = this.#wanted !== undefined &&
      await this.#wanted(file, pid);
    if (!wanted) {
      if (event) this.#unwatch(pid);
      // Read after the wanted ones: a binary without probe point is then
      // ruled out in the kernel, filter or not.
      const binary = event?.binary;
      if (binary) {
        this.#background(
          this.#binaries.readToRuleOut(names, file, pid).then((verdict) => {
            // The kernel's identity is ruled out only when it is this file's.
            if (verdict === null && names.length > 1) {
              this.#ruleOut(binary, file.path);
            }
          }),
        );
      }
      return;
    }
    const verdict = this.#binaries.known(names);
    if (verdict === undefined || verdict instanceof Promise) {
      // Unreadable, or dropped from a full queue: a rescan finds it again.
      if (again) return;
      return this.#lookAgain(
        verdict ?? this.#binaries.readWanted(names, file, pid),
        pid,
        event,
        settle,
      );
    }
    this.#binaries.remember(names, verdict);
    if (verdict === null) {
      // The kernel's identity is ruled out only when it is this file's.
      if (event && names.length > 1) {
        this.#noProbePoint(pid, event, true, file.path);
      } else if (event) this.#unwatch(pid);
      return;
    }
    await this.#hooks.describe?.(pid);
    if (this.#closed) return;
    this.#links.track(verdict, file, pid);
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
      this.#lanes.enqueue(
        () => this.#onProcess(pid, event, undefined, true),
        verdict ? Lane.first : Lane.later,
      )
    );
    if (settle) settle.push(looked.catch(() => {}));
    else this.#background(looked);
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
    if (event.binary) this.#ruleOut(event.binary, path);
    if (!current) return;
    // A traced process that executed this binary no longer runs the traced one.
    if (this.#links.traces(pid)) this.#links.forget(pid);
    this.#unwatch(pid);
  }

  /**
   * Stops the kernel reporting execs of `binary`, which has no probe point;
   * `path` is given when the verdict is new: logged.
   */
  #ruleOut(binary: ExecBinary, path?: string): void {
    this.#discovery.ruleOut(binary);
    if (path !== undefined) {
      this.#log.debug("ruled out in the kernel", { path });
    }
  }

  /** Stops the kernel reporting the exit of `pid`, which is not traced. */
  #unwatch(pid: number): void {
    if (!this.#links.traces(pid)) this.#discovery.unwatch(pid);
  }

  /**
   * For a process that exited before it was looked at: reads its binary in
   * the background and rules it out when it has no probe point.
   */
  #ruleOutGone(event: ExecEvent): void {
    if (!event.binary || !event.path || !this.#discovery.hasEvents) return;
    const { binary, path } = event;
    this.#background(
      this.#binaries.readGone(event).then((none) => {
        if (none) this.#ruleOut(binary, path);
      }),
    );
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
   * An exit event of `pid`, handled after the execs of its lane: a process
   * that reused the pid meanwhile and runs the traced file is kept. `last`
   * is the latest exec of the pid when the exit came.
   */
  async #exited(pid: number, last: ExecEvent | undefined): Promise<void> {
    this.#discovery.exited(pid, last);
    const key = this.#links.keyOf(pid);
    if (key !== undefined) {
      const file = await this.#host.processes.exeFile(pid);
      if (file && binaryKey(file) === key) return;
    }
    this.#links.forget(pid);
  }
}
