/**
 * The kernel matrix: spanbridge end to end on the kernels fleets run. Each
 * Debian kernel (bullseye 5.10, bookworm 6.1, trixie 6.12; the newest of
 * each, tools/vm_kernels.ts) boots in a virtual machine (_vm.ts), and this
 * machine's own kernel runs the same scenarios directly
 * (_scenarios.ts: --target, every SDK feature of the showcase, --pid, a
 * restart after SIGKILL, --all). Each
 * test checks what the kernel must give: the probe program, how
 * attachments are held, the uprobe kind, exec events for --all.
 *
 * The controller and the scenarios run as `deno bundle` files: the same
 * source, one file each, because module loading from the guest's 9p root
 * took ~30 s per start under emulation (the bundle: ~2 s).
 *
 * Part of `./task test`; `./task test:kernels` runs it alone. Needs root
 * (qemu, /lib/modules links, eBPF); the first run fetches ~200 MB of kernel
 * packages into build/kernels. SPANBRIDGE_SKIP_KERNELS=1 skips it, loudly.
 */
import assert from "node:assert/strict";
import { ensureKernels, type VmKernel } from "../../tools/vm_kernels.ts";
import {
  ebpfAvailable,
  removePinRoot,
  root,
  runProgram,
  testPinRoot,
} from "../../testing/harness.ts";
import { bootAndRun } from "./_vm.ts";

const skip = Deno.env.get("SPANBRIDGE_SKIP_KERNELS") === "1";
if (skip) {
  console.error(
    "SKIPPING the kernel matrix: SPANBRIDGE_SKIP_KERNELS=1 is set.",
  );
}
const canTrace = !skip && ebpfAvailable("kernel matrix");

const stageDir = `${root}build/vm/stage`;

/** One scenario's line from _scenarios.ts. */
interface ScenarioResult {
  scenario: string;
  ok: boolean;
  ms: number;
  // deno-lint-ignore no-explicit-any
  facts?: Record<string, any>;
  error?: string;
}

let prepared: Promise<VmKernel[]> | undefined;

/**
 * Once per run: the tools (bootstrap), the kernels, and the stage the
 * guests copy: the two bundles, the BPF objects and hello.
 */
function prepare(): Promise<VmKernel[]> {
  return prepared ??= (async () => {
    await runProgram("sh", [`${root}tools/bootstrap.sh`, "kernels"]);
    const kernels = await ensureKernels();
    try {
      Deno.removeSync(stageDir, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    Deno.mkdirSync(`${stageDir}/build/vm`, { recursive: true });
    for (
      const [entry, bundle] of [
        ["src/main.ts", "build/vm/spanbridge.js"],
        ["tests/kernels/_scenarios.ts", "scenarios.js"],
      ]
    ) {
      await runProgram(Deno.execPath(), [
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "-o",
        `${stageDir}/${bundle}`,
        `${root}${entry}`,
      ]);
    }
    await runProgram("cp", ["-r", `${root}build/bpf`, `${stageDir}/build/bpf`]);
    await runProgram("cp", [`${root}build/bin/hello`, `${stageDir}/hello`]);
    await runProgram("cp", [
      `${root}build/bin/showcase`,
      `${stageDir}/showcase`,
    ]);
    return kernels;
  })();
}

/** What a kernel must show, from its version. */
function expected(release: string) {
  const [major, minor] = release.split(".").map(Number);
  const v = major * 1000 + minor;
  return {
    // The kfunc bpf_probe_read_user_dynptr came with 6.16.
    kind: v >= 6016 ? "dynptr" : "classes",
    // BPF links for perf events came with 5.15.
    attachMode: v >= 5015 ? "pinned" : "held",
    // Optimized uprobes (a call into a trampoline) came with 6.18, x86_64.
    uprobe: v >= 6018 && Deno.build.arch === "x86_64"
      ? "optimized"
      : "breakpoint",
  };
}

function parseResults(text: string): ScenarioResult[] {
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l)
  );
}

/** Checks the four scenarios' results against what `release` must show. */
function assertMatrixRow(release: string, results: ScenarioResult[]): void {
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(
    failed.map((r) => `${r.scenario}: ${r.error}`),
    [],
    `scenarios failed on ${release}`,
  );
  const by = Object.fromEntries(results.map((r) => [r.scenario, r]));
  assert.deepEqual(Object.keys(by).sort(), [
    "all",
    "pid",
    "restart",
    "showcase",
    "target",
  ]);
  const want = expected(release);
  const target = by.target.facts!;
  assert.equal(target.kernel, release);
  assert.equal(target.kind, want.kind, target.kindWhy);
  assert.equal(target.attachMode, want.attachMode);
  assert.equal(target.uprobe, want.uprobe);
  assert.equal(by.pid.facts!.untraced, "none (0xf)");
  assert.equal(by.restart.facts!.attachMode, want.attachMode);
  assert.equal(
    by.restart.facts!.probeAfterKill,
    want.attachMode === "held" ? "none (0xf)" : want.uprobe,
  );
  assert.equal(by.all.facts!.discovery, "exec tracepoint");
  const summary = results.map((r) =>
    `${r.scenario} ${(r.ms / 1000).toFixed(1)} s`
  )
    .join(", ");
  console.log(
    `${release}: ${target.kind} probe, ${target.attachMode} attachments, ${target.uprobe} uprobe; ${summary}`,
  );
}

for (
  const { suite, line } of [
    { suite: "bullseye", line: "5.10" },
    { suite: "bookworm", line: "6.1" },
    { suite: "trixie", line: "6.12" },
  ]
) {
  Deno.test({
    name:
      `kernel matrix: Debian ${suite} (${line}) in a VM runs --target, the showcase, --pid, a restart after SIGKILL and --all`,
    ignore: !canTrace,
    async fn() {
      const kernel = (await prepare()).find((k) => k.suite === suite)!;
      const rw = Deno.makeTempDirSync({ prefix: `spanbridge-vm-${suite}-` });
      try {
        const boot = await bootAndRun(
          kernel,
          `sh ${root}tests/kernels/_guest.sh ${stageDir} ${
            Deno.realPathSync(Deno.execPath())
          } ${rw}`,
          { rwdir: rw, timeoutMs: 300_000 },
        );
        const read = (name: string) => {
          try {
            return Deno.readTextFileSync(`${rw}/${name}`);
          } catch {
            return "";
          }
        };
        const results = parseResults(read("results.jsonl"));
        const context = `boot of ${kernel.release}: exit ${boot.code}${
          boot.timedOut ? " (timed out)" : ""
        } after ${boot.seconds.toFixed(0)} s\nguest stderr:\n${
          read("stderr.log").slice(-4000)
        }\nconsole (last lines):\n${
          boot.console.split("\n").slice(-40).join("\n")
        }`;
        assert.ok(results.length > 0, `no results from the guest; ${context}`);
        try {
          assertMatrixRow(kernel.release, results);
        } catch (e) {
          throw new Error(`${(e as Error).message}\n${context}`, { cause: e });
        }
        console.log(
          `${kernel.release}: boot and scenarios took ${
            boot.seconds.toFixed(0)
          } s`,
        );
      } finally {
        Deno.removeSync(rw, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "kernel matrix: this machine's kernel runs --target, the showcase, --pid, a restart after SIGKILL and --all",
  ignore: !canTrace,
  async fn() {
    await prepare();
    const pinRoot = testPinRoot("kernels");
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${stageDir}/scenarios.js`,
          "--controller",
          `${stageDir}/build/vm/spanbridge.js`,
          "--hello",
          `${stageDir}/hello`,
          "--showcase",
          `${stageDir}/showcase`,
          "--pin-root",
          pinRoot,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const results = parseResults(new TextDecoder().decode(out.stdout));
      assertMatrixRow(Deno.osRelease(), results);
    } finally {
      removePinRoot(pinRoot);
    }
  },
});
