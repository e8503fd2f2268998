/**
 * Runs bpftool, the only loader the probe uses (no libbpf object loading in
 * process: bpftool pins what it loads, so a restarted controller finds it).
 *
 * @module
 */

import { EnvironmentError } from "../errors.ts";

const candidates = ["bpftool", "/usr/sbin/bpftool", "/sbin/bpftool"];

/** Runs `bpftool args...`; throws a sentence with bpftool's stderr on failure. */
export async function bpftool(args: string[], what: string): Promise<void> {
  for (const cmd of candidates) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(cmd, {
        args,
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    if (out.success) return;
    const stderr = new TextDecoder().decode(out.stderr).trim();
    if (/Operation not permitted|Permission denied/.test(stderr)) {
      // One line: the verifier log says nothing more about a missing privilege.
      const said = stderr.split("\n").find((l) =>
        /Operation not permitted|Permission denied/.test(l)
      )!.replace(/^Error: /, "");
      throw new EnvironmentError(
        `${what}: bpftool ${args.slice(0, 2).join(" ")} failed: ${said}. ${
          hintFor(stderr)
        }`,
      );
    }
    const tail = stderr.split("\n").slice(-12).join("\n");
    throw new Error(
      `${what}: bpftool ${
        args.join(" ")
      } failed (exit ${out.code}):\n${tail}\n${hintFor(stderr)}`,
    );
  }
  throw new EnvironmentError(
    `${what}: bpftool is not installed. Install it (apt-get install bpftool) or put it on PATH.`,
  );
}

function hintFor(stderr: string): string {
  if (/Operation not permitted|Permission denied/.test(stderr)) {
    return "Run as root or grant CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN.";
  }
  if (/not a BPF filesystem|not on a BPF filesystem|bpffs/i.test(stderr)) {
    return "Mount bpffs: mount -t bpf -o mode=0700 bpf /sys/fs/bpf.";
  }
  return "Check the kernel version (5.8+ for ring buffers, 6.16+ for the dynptr probe) and the verifier log above.";
}
