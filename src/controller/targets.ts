/**
 * Keeps the probe attached to the right binaries: one link per target
 * executable (device + inode), re-attached when the file is rebuilt in place,
 * and the kernel's pid filter in step with `--pid` targets.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Attachment, Probe } from "../probe/mod.ts";
import {
  type BinaryWatch,
  resolveProcessTarget,
  resolveTarget,
  type TargetBinary,
  watchBinary,
} from "../process/mod.ts";

/** What the user asked to trace. */
export interface TargetSpec {
  /** Executables: every process running them, now or later. */
  exes: string[];
  /** Process ids: only these processes. */
  pids: number[];
}

/** Targets whose binaries were found and checked, ready to attach. */
export interface ResolvedTargets {
  /** The executables to follow, with their resolved binaries. */
  exes: { path: string; binary: TargetBinary }[];
  /** The processes to trace, with the binaries they run. */
  pids: { pid: number; binary: TargetBinary }[];
}

/**
 * Finds and checks every target before anything touches the kernel, so that
 * a wrong path or pid fails fast with a message naming it.
 */
export async function resolveTargets(
  spec: TargetSpec,
): Promise<ResolvedTargets> {
  const exes = [];
  for (const path of spec.exes) {
    exes.push({ path, binary: await resolveTarget(path) });
  }
  const pids = [];
  for (const pid of spec.pids) {
    pids.push({ pid, binary: (await resolveProcessTarget(pid)).target });
  }
  return { exes, pids };
}

/** A binary the probe is attached to. */
export interface AttachedBinary {
  /** The resolved binary (symbol, offset, build info). */
  binary: TargetBinary;
  /** The probe's link on it. */
  attachment: Attachment;
}

/** Attaches the probe to the targets and follows them as they change. */
export class Targets {
  readonly #probe: Probe;
  readonly #log: Logger;
  readonly #byInode = new Map<string, AttachedBinary>();
  readonly #watchers: BinaryWatch[] = [];

  /** Creates the attachment manager; nothing happens until {@linkcode attach}. */
  constructor(probe: Probe, log: Logger) {
    this.#probe = probe;
    this.#log = log;
  }

  /** The binaries currently attached. */
  get attached(): AttachedBinary[] {
    return [...this.#byInode.values()];
  }

  /** Attaches to every resolved target and starts following the executables. */
  attach(targets: ResolvedTargets): void {
    for (const { path, binary } of targets.exes) {
      this.#attachBinary(binary);
      this.#watchers.push(
        watchBinary(binary, (next) => this.#onReplaced(path, next), {
          onError: (err) =>
            this.#log.warn("the target binary changed but cannot be traced", {
              path,
              error: (err as Error).message,
            }),
        }),
      );
    }
    for (const { binary } of targets.pids) this.#attachBinary(binary);
    // A kernel-side filter is only right when every target is a pid: an
    // executable target wants every process that runs it.
    const pids = targets.pids.map((p) => p.pid);
    this.#probe.setPidFilter(
      targets.exes.length === 0 && pids.length > 0 ? pids : null,
    );
  }

  /** The binary a process runs, if it is one we attached to. */
  binaryOf(dev: number, ino: number): TargetBinary | undefined {
    return this.#byInode.get(`${dev}:${ino}`)?.binary;
  }

  /** Stops watching and detaches every link. */
  close(): void {
    for (const w of this.#watchers.splice(0)) w.close();
    for (const { attachment } of this.#byInode.values()) attachment.detach();
    this.#byInode.clear();
  }

  #attachBinary(binary: TargetBinary): void {
    const key = `${binary.dev}:${binary.ino}`;
    if (this.#byInode.has(key)) return;
    const attachment = this.#probe.attach(binary.path, binary.endedOffset);
    this.#byInode.set(key, { binary, attachment });
    this.#log.info("attached", {
      path: binary.realPath,
      symbol: binary.endedSymbol,
      offset: binary.endedOffset,
      go: binary.build?.goVersion,
    });
  }

  #onReplaced(exe: string, binary: TargetBinary): void {
    // Processes still running the old inode keep their link; new processes
    // run the new file and need a new one.
    this.#log.info("target binary replaced, attaching to the new file", {
      path: exe,
    });
    try {
      this.#attachBinary(binary);
    } catch (err) {
      this.#log.error("cannot attach to the replaced binary", {
        path: exe,
        error: (err as Error).message,
      });
    }
  }
}
