/**
 * Runs bpftool, the only loader the probe uses (no libbpf object loading in
 * process: bpftool pins what it loads, so a restarted controller finds it).
 *
 * @module
 */

import { EnvironmentError } from "../errors.ts";

const candidates = ["bpftool", "/usr/sbin/bpftool", "/sbin/bpftool"];

/**
 * The kernel's verifier refused a program: this kernel lacks what the
 * program needs (exit code 3), and another program may still load.
 */
export class VerifierError extends EnvironmentError {
  /** Names the error. */
  constructor(message: string) {
    super(message);
    this.name = "VerifierError";
  }
}

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
    const refusal = verifierRefusal(stderr);
    if (refusal) {
      throw new VerifierError(
        `${what}: the verifier of kernel ${Deno.osRelease()} refused the program: ${refusal}. This build's probe does not run on this kernel; README "Requirements" lists the kernels it was proven on.`,
      );
    }
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

/**
 * The verifier's reason and the source line it refused, from the program
 * load log libbpf prints when the kernel's verifier refuses a program
 * (EACCES, which must not read as a missing privilege); undefined when
 * `stderr` holds no such log.
 */
export function verifierRefusal(stderr: string): string | undefined {
  const end = stderr.indexOf("-- END PROG LOAD LOG --");
  if (end < 0) return undefined;
  const lines = stderr.slice(0, end).trimEnd().split("\n");
  // The log ends with the reason, then "processed N insns ...".
  const last = lines.length - 1;
  const at = /^processed \d+ insns/.test(lines[last]) ? last - 1 : last;
  const reason = lines[at]?.trim() || "no reason given";
  const source = lines.slice(0, at).findLast((l) => l.startsWith(";"));
  return source
    ? `"${reason}" at \`${source.slice(1).trim()}\``
    : `"${reason}"`;
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
