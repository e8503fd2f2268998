/**
 * Which discovered processes to trace: include and exclude rules on the
 * executable's path (as the process sees it, inside its container) and on
 * the container id.
 *
 * @module
 */

import { matchesGlob } from "node:path";

/** The rules; an empty include list includes everything. */
export interface ProcessFilterRules {
  /** Executable path globs (`*` within a path element, `**` across them). */
  includeExe: string[];
  /** Executable path globs never traced. */
  excludeExe: string[];
  /**
   * Container ids (a prefix such as Docker's 12-digit short id, or a glob).
   * Processes outside containers match no container rule.
   */
  includeContainer: string[];
  /** Container ids never traced. */
  excludeContainer: string[];
}

/** No rule: every process. */
export const noFilter: ProcessFilterRules = {
  includeExe: [],
  excludeExe: [],
  includeContainer: [],
  excludeContainer: [],
};

/** True when a container rule exists, so the cgroup needs to be read. */
export function needsContainerId(rules: ProcessFilterRules): boolean {
  return rules.includeContainer.length + rules.excludeContainer.length > 0;
}

/**
 * True when a process running `exePath` in container `containerId` (or on
 * the host, undefined) passes `rules`: it matches an include rule of each
 * kind that has some, and no exclude rule.
 *
 * @example
 * ```ts
 * matchesFilter({ ...noFilter, includeExe: ["/app/**"] }, "/app/bin/server", undefined); // true
 * ```
 */
export function matchesFilter(
  rules: ProcessFilterRules,
  exePath: string,
  containerId: string | undefined,
): boolean {
  const exe = (glob: string) => matchesGlob(exePath, glob);
  const container = (rule: string) => matchesContainer(rule, containerId);
  if (rules.includeExe.length > 0 && !rules.includeExe.some(exe)) return false;
  if (rules.excludeExe.some(exe)) return false;
  if (
    rules.includeContainer.length > 0 && !rules.includeContainer.some(container)
  ) {
    return false;
  }
  return !rules.excludeContainer.some(container);
}

/**
 * True when the container `containerId` (undefined: a host process, which
 * matches no rule) matches `rule`: a glob when it has glob characters, else
 * an id prefix (such as Docker's 12-digit short id).
 */
export function matchesContainer(
  rule: string,
  containerId: string | undefined,
): boolean {
  if (containerId === undefined) return false;
  return /[*?[{]/.test(rule)
    ? matchesGlob(containerId, rule)
    : containerId.startsWith(rule);
}
