/**
 * The one place that decides whether a test (or benchmark) that needs eBPF
 * on the real kernel may run, and the one helper pair for private pin roots.
 * Used by the kernel tests beside the code (src/probe), the end-to-end tests
 * (tests/) and the benchmarks (bench/).
 *
 * A test that needs eBPF fails loudly, naming what this machine lacks, unless
 * SPANBRIDGE_SKIP_EBPF=1 asks to skip it; then it says that it skipped.
 *
 * @module
 */

import { EnvironmentError } from "../src/errors.ts";
import { BPF_FS_MAGIC, fsType } from "../src/ffi/mod.ts";

/** True when SPANBRIDGE_SKIP_EBPF=1 asks to skip the tests that need eBPF. */
export const skipEbpf: boolean = Deno.env.get("SPANBRIDGE_SKIP_EBPF") === "1";

/** What this machine lacks for eBPF tests: none when they can run. */
export function ebpfProblems(): string[] {
  const problems: string[] = [];
  if (Deno.uid() !== 0) problems.push("not running as root");
  try {
    Deno.statSync("/sys/bus/event_source/devices/uprobe/type");
  } catch {
    problems.push(
      "the kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe/type)",
    );
  }
  let onBpffs = false;
  try {
    onBpffs = fsType("/sys/fs/bpf") === BPF_FS_MAGIC;
  } catch {
    // Missing, or libc cannot be loaded: not usable either way.
  }
  if (!onBpffs) problems.push("bpffs is not mounted at /sys/fs/bpf");
  return problems;
}

/**
 * Throws an EnvironmentError (exit status 3 for a command) naming what this
 * machine lacks for `what`; `what` is e.g. "The benchmark".
 */
export function requireEbpf(what: string): void {
  const problems = ebpfProblems();
  if (problems.length > 0) {
    throw new EnvironmentError(
      `${what} needs eBPF, which is not usable here: ${problems.join("; ")}. ` +
        "Run as root on Linux 5.8+ with bpffs mounted (./task mounts it), " +
        "or set SPANBRIDGE_SKIP_EBPF=1 to skip the tests that need it.",
    );
  }
}

/**
 * Whether the test `testName` that needs eBPF may run: false (saying so)
 * when SPANBRIDGE_SKIP_EBPF=1, true when eBPF is usable, and otherwise an
 * error naming what is missing. Pass the result as Deno.test's `ignore`.
 */
export function ebpfAvailable(testName: string): boolean {
  if (skipEbpf) {
    console.warn(`SKIPPED (SPANBRIDGE_SKIP_EBPF=1): ${testName} needs eBPF`);
    return false;
  }
  requireEbpf(testName);
  return true;
}

/** Deno.test for a test that needs eBPF, gated by {@linkcode ebpfAvailable} when it runs. */
export function ebpfTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void> | void,
): void {
  if (skipEbpf) {
    ebpfAvailable(name); // says that it skips
    Deno.test({ name, ignore: true, fn });
    return;
  }
  Deno.test({
    name,
    sanitizeResources: false,
    fn: async (t) => {
      requireEbpf(name);
      await fn(t);
    },
  });
}

let roots = 0;
// Test files run in separate isolates of one process: a counter alone would
// repeat across files.
const rootTag = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);

/**
 * A fresh pin root under /sys/fs/bpf that no real controller uses, named
 * after `tag` and this process; remove it with {@linkcode removePinRoot}.
 */
export function testPinRoot(tag = "probe"): string {
  return `/sys/fs/bpf/spanbridge-test-${tag}-${Deno.pid}-${rootTag}-${roots++}`;
}

/**
 * Removes a test's pin root and whatever is pinned under it (removing a
 * link's pin detaches its uprobe). A missing root is fine.
 */
export function removePinRoot(pinRoot: string): void {
  try {
    Deno.removeSync(pinRoot, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
