/**
 * src/process: everything about finding what to probe. Given a path or a pid,
 * it finds the Go binary, checks it contains spanbridge's probe point, and
 * returns the file offset for the uprobe with the binary's identity and Go
 * build info; it lists processes from /proc (the one reader, `proc.ts`) with
 * their container identity from cgroups, applies the `--all` filters,
 * describes processes for resource attribution, notices their exits, and
 * notices when a binary is rebuilt.
 *
 * @example
 * ```ts
 * import { resolveTarget, watchBinary } from "./mod.ts";
 *
 * const target = await resolveTarget("./bin/server");
 * // attach a uprobe to target.path at target.endedOffset, pid -1
 * const watch = watchBinary(target, (next) => {
 *   // attach to next.path at next.endedOffset
 * });
 * ```
 *
 * @module
 */

export {
  type GoBuildInfo,
  type GoModule,
  parseModInfo,
  readBuildInfo,
} from "./buildinfo.ts";
export {
  type Arch,
  ElfFile,
  type ElfSection,
  type ElfSegment,
  type ElfSymbol,
} from "./elf.ts";
export { TargetError, type TargetErrorKind } from "./errors.ts";
export { type ContainerIdentity, parseCgroup } from "./cgroup.ts";
export {
  matchesContainer,
  matchesFilter,
  needsContainerId,
  noFilter,
  type ProcessFilterRules,
} from "./filter.ts";
export {
  containerOf,
  type ExeFile,
  exeFile,
  fileVersion,
  listPids,
  type ProcessInfo,
  processInfo,
  startTicks,
} from "./proc.ts";
export {
  probeFunction,
  probeNop,
  probePackage,
  resolveProcessTarget,
  resolveTarget,
  sdkModule,
  type TargetBinary,
} from "./resolve.ts";
export {
  type ResolvedTargets,
  resolveTargets,
  type TargetSpec,
} from "./targets.ts";
export { ProcessTracker, type ProcessTrackerOptions } from "./tracker.ts";
export {
  type BinaryWatch,
  watchBinary,
  type WatchBinaryOptions,
} from "./watch.ts";
