/**
 * What the user asked to trace, resolved: every `--target` path and `--pid`
 * found and checked for the probe point before anything touches the
 * kernel, so that a wrong path or pid fails fast with a message naming it.
 *
 * @module
 */
import { resolve as resolvePath } from "node:path";
import { TargetError } from "./errors.ts";
import { noFilter, type ProcessFilterRules } from "./filter.ts";
import {
  resolveProcessTarget,
  resolveTarget,
  type TargetBinary,
} from "./resolve.ts";

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
