/**
 * Judges binaries for the attachment manager (targets.ts): from what is
 * known (the kernel's size of the file, a verdict in memory or a read under
 * way) without a system call, or by a read scheduled on the
 * {@linkcode Inspector}: likely SDK-linked binaries of wanted processes
 * first, then other wanted ones, then those read only to rule them out in
 * the kernel. A read names the binary both by its stat and, when it is the
 * same file, by the kernel's identity from the exec event, so that later
 * execs of it are decided from memory.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { type ExecEvent, sameBinary } from "../probe/mod.ts";
import {
  type ExeFile,
  fileVersion,
  resolveTarget,
  type TargetBinary,
  TargetError,
} from "../process/mod.ts";
import {
  execName,
  fileName,
  Inspector,
  type InspectorCounters,
  likelySdkBytes,
  Priority,
  type Verdict,
} from "./inspector.ts";

/** What {@linkcode Binaries} reads of the files it judges. */
export interface BinaryFiles {
  /** The stat of `path` (following links). */
  stat(path: string): Promise<Deno.FileInfo>;
  /**
   * Reads the binary at `path`, which must be the file `expect`, and
   * locates its probe point (src/process/resolve.ts).
   */
  read(
    path: string,
    expect: { dev: number; ino: number },
  ): Promise<TargetBinary>;
}

/** This machine's files. */
export const hostBinaryFiles: BinaryFiles = {
  stat: Deno.stat,
  read: resolveTarget,
};

/** A verdict, or a promise of it while the binary is read (undefined: no verdict). */
export type Known = Verdict | Promise<Verdict | undefined>;

/**
 * Files smaller than this are not read: they cannot hold a Go program (an
 * empty `func main() {}` built with -ldflags='-s -w' is 1.2 MB on x86_64
 * and arm64 with Go 1.26), let alone one that links the SDK.
 */
const tooSmallForGo = 512 << 10;

/** Verdicts on binaries, from memory or from a scheduled read. */
export class Binaries {
  readonly #files: BinaryFiles;
  readonly #log: Logger;
  readonly #inspector = new Inspector();

  /** Knows nothing yet. */
  constructor(files: BinaryFiles, log: Logger) {
    this.#files = files;
    this.#log = log;
  }

  /**
   * What is known of the binary of exec `event` without a system call:
   * `{ ruledOut: "new" }` when its size alone rules it out for the first
   * time, `{ ruledOut: "known" }` when it was ruled out before, else the
   * verdict or the read under way (undefined when nothing is known).
   */
  ofExec(
    event: ExecEvent | undefined,
  ): { ruledOut: "new" | "known" } | Known | undefined {
    if (!event?.binary) return undefined;
    const exec = execName(event.binary);
    if (event.size !== undefined && event.size < tooSmallForGo) {
      const known = this.#inspector.known(exec) === null;
      this.#inspector.remember(exec, null);
      return { ruledOut: known ? "known" : "new" };
    }
    const known = this.#inspector.known(exec);
    return known === null ? { ruledOut: "known" } : known;
  }

  /**
   * The names of `file`: its stat's, and the kernel's identity of `event`
   * when that is the same file.
   */
  namesOf(file: ExeFile, event: ExecEvent | undefined): string[] {
    const names = [fileName(file)];
    if (event?.binary && sameBinary(event.binary, file)) {
      names.push(execName(event.binary));
    }
    return names;
  }

  /** The first verdict (or read under way) known under one of `names`. */
  known(names: string[]): Known | undefined {
    let verdict: Known | undefined;
    for (const name of names) verdict ??= this.#inspector.known(name);
    return verdict;
  }

  /** Remembers `verdict` under every one of `names`. */
  remember(names: string[], verdict: Verdict): void {
    for (const name of names) this.#inspector.remember(name, verdict);
  }

  /**
   * Reads `file`, which `pid` runs, for a process the filter wants: a file
   * large enough to hold the SDK first.
   */
  readWanted(
    names: string[],
    file: ExeFile,
    pid: number,
  ): Promise<Verdict | undefined> {
    const priority = file.size >= likelySdkBytes
      ? Priority.likelySdk
      : Priority.wanted;
    return this.#inspector.inspect(
      names,
      priority,
      () => this.#read(`/proc/${pid}/exe`, file, pid),
    );
  }

  /** Reads `file`, which `pid` runs, only to rule it out: after the wanted ones. */
  readToRuleOut(
    names: string[],
    file: ExeFile,
    pid: number,
  ): Promise<Verdict | undefined> {
    return this.#inspector.inspect(
      names,
      Priority.ruleOut,
      () => this.#read(`/proc/${pid}/exe`, file, pid),
    );
  }

  /**
   * For a process that exited before it was looked at: reads its binary
   * through the path it executed, as its parent sees it, and resolves true
   * when it has no probe point and is the very file the kernel named (the
   * path may name another one by now, or in another namespace).
   */
  async readGone(event: ExecEvent): Promise<boolean> {
    const { binary, path, ppid } = event;
    if (!binary || !path) return false;
    const candidates = path.startsWith("/")
      ? [`/proc/${ppid}/root${path}`, path]
      : [`/proc/${ppid}/cwd/${path}`];
    for (const candidate of candidates) {
      let st: Deno.FileInfo;
      try {
        st = await this.#files.stat(candidate);
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
      return verdict === null;
    }
    return false;
  }

  /** The inspector's counters. */
  counters(): InspectorCounters {
    return this.#inspector.counters();
  }

  /** Drops the reads waiting; those under way finish. */
  close(): void {
    this.#inspector.close();
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
      const read = await this.#files.read(path, file);
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
}
