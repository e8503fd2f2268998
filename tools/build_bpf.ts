/**
 * Builds the BPF objects: every bpf/*.bpf.c for x86_64 and arm64 into
 * `<outDir>/<name>.<arch>.o` with clang, then drops DWARF (llvm-strip -g) but
 * keeps the BTF that libbpf needs.
 *
 * @module
 */

import { runTool } from "./run_tool.ts";

const bpfDir = new URL("../bpf/", import.meta.url).pathname;

/** The BPF target architectures built, as named in object file names. */
export const bpfArches = ["x86", "arm64"] as const;

/**
 * Compiles bpf/*.bpf.c for every architecture in {@linkcode bpfArches} into
 * `outDir`, skipping objects newer than their source and bpf/*.h. Returns the
 * paths of all objects (built or already up to date).
 *
 * @example
 * ```ts
 * const objects = await buildBpf("build/bpf");
 * ```
 */
export async function buildBpf(outDir: string): Promise<string[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const sources: string[] = [];
  let headersTime = 0;
  for (const entry of Deno.readDirSync(bpfDir)) {
    if (entry.name.endsWith(".bpf.c")) sources.push(entry.name);
    if (entry.name.endsWith(".h")) {
      headersTime = Math.max(headersTime, mtime(bpfDir + entry.name));
    }
  }
  sources.sort();
  const outputs: string[] = [];
  for (const source of sources) {
    const name = source.slice(0, -".bpf.c".length);
    const inputTime = Math.max(headersTime, mtime(bpfDir + source));
    for (const arch of bpfArches) {
      const out = `${outDir}/${name}.${arch}.o`;
      outputs.push(out);
      if (mtime(out) > inputTime) continue;
      await run("clang", [
        "-O2",
        "-g",
        "-Wall",
        "-Werror",
        "-target",
        "bpf",
        `-D__TARGET_ARCH_${arch}`,
        // <linux/bpf.h> needs <asm/types.h>, which is the same for both
        // targets; the register layouts are spelled out in ended_common.h.
        `-I/usr/include/${Deno.build.arch}-linux-gnu`,
        "-c",
        bpfDir + source,
        "-o",
        out,
      ]);
      await run("llvm-strip", ["-g", out]);
    }
  }
  return outputs;
}

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** Runs a compiler tool; the errors say what was being built. */
function run(cmd: string, args: string[]): Promise<void> {
  return runTool(
    cmd,
    args,
    "build the BPF objects",
    "install clang and llvm; tools/bootstrap.sh does",
  );
}

if (import.meta.main) {
  const outDir = Deno.args[0] ??
    new URL("../build/bpf", import.meta.url).pathname;
  for (const path of await buildBpf(outDir)) console.log(path);
}
