/**
 * Boots a kernel of the matrix in a virtual machine and runs one command in
 * it, with virtme-ng (from PyPI, pinned by tools/bootstrap.sh kernels):
 * the guest runs on this machine's own root filesystem, read-only over
 * 9p, so it has the same Deno, bpftool, libbpf and built programs as the
 * host, and nothing needs an image of its own. Emulated (qemu TCG): a
 * nested KVM guest hangs on these machines right after "Probing EDD".
 *
 * virtme-ng takes a kernel's modules (9p, overlayfs) from
 * /lib/modules/<release>; for a kernel this machine does not run, that is
 * a link to the unpacked package in build/kernels, made for the boot and
 * removed after it.
 *
 * @module
 */
import type { VmKernel } from "../../tools/vm_kernels.ts";
import { root } from "../../testing/harness.ts";

/** What one boot did. */
export interface BootResult {
  /** The exit status of the VM process (null when it was killed). */
  code: number | null;
  /** Console output: kernel messages and the command's own output. */
  console: string;
  /** Wall time of the boot, command and shutdown. */
  seconds: number;
  /** True when the boot ran past its time limit and was killed. */
  timedOut: boolean;
}

/** Options of {@linkcode bootAndRun}. */
export interface BootOptions {
  /** A host directory the guest can write (at the same path). */
  rwdir: string;
  /** Time limit of the whole boot. */
  timeoutMs: number;
  /** Guest memory; default 2G. */
  memory?: string;
  /** Guest CPUs; default 2. */
  cpus?: number;
}

const vngBin = `${root}build/virtme-ng/bin`;

/**
 * Boots `kernel`, runs `command` (a shell command line) as root in the
 * guest and powers off. Needs root (qemu, /lib/modules).
 */
export async function bootAndRun(
  kernel: VmKernel,
  command: string,
  options: BootOptions,
): Promise<BootResult> {
  const unlink = linkModules(kernel);
  const t0 = performance.now();
  try {
    const seconds = Math.ceil(options.timeoutMs / 1000);
    const out = await new Deno.Command("timeout", {
      args: [
        "--kill-after=10",
        `${seconds}`,
        `${vngBin}/vng`,
        "--verbose", // the command's output reaches the console only so
        "--disable-kvm",
        "--force-9p",
        "--run",
        kernel.vmlinuz,
        "--memory",
        options.memory ?? "2G",
        "--cpus",
        `${options.cpus ?? 2}`,
        "--rwdir",
        options.rwdir,
        "--exec",
        command,
      ],
      env: { PATH: `${vngBin}:${Deno.env.get("PATH")}` },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      console: dec.decode(out.stdout) + dec.decode(out.stderr),
      seconds: (performance.now() - t0) / 1000,
      timedOut: out.code === 124 || out.code === 137,
    };
  } finally {
    unlink();
  }
}

/** Links /lib/modules/<release> to the kernel's modules unless present; returns the undo. */
function linkModules(kernel: VmKernel): () => void {
  const link = `/lib/modules/${kernel.release}`;
  try {
    Deno.lstatSync(link);
    return () => {};
  } catch {
    // Not there: this machine does not run that kernel.
  }
  Deno.mkdirSync("/lib/modules", { recursive: true });
  Deno.symlinkSync(kernel.modules, link);
  return () => {
    try {
      if (Deno.readLinkSync(link) === kernel.modules) Deno.removeSync(link);
    } catch {
      // Removed already.
    }
  };
}
