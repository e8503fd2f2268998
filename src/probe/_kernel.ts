/**
 * What the running kernel offers the probe, looked at once when a probe
 * opens: the features it cannot do without (a refusal names the first one
 * missing and the kernel), and which program it gets, with the reason.
 *
 * @module
 */

import { EnvironmentError } from "../errors.ts";
import { hasRingBuffer, uprobePmuPath, uprobeType } from "../ffi/mod.ts";
import type { ProbeKind } from "./_objects.ts";

/** The kernel features the probe looks for. */
export interface KernelFeatures {
  /** The kernel release, as uname -r prints it. */
  release: string;
  /** BPF ring buffers (5.8+): required. */
  ringBuffer: boolean;
  /** The uprobe PMU of perf_event_open (4.17+): required. */
  uprobePmu: boolean;
  /** Kernel BTF at /sys/kernel/btf/vmlinux: the exec program of --all needs it. */
  btf: boolean;
  /** The bpf_probe_read_user_dynptr kfunc (6.16+): exact-size records. */
  dynptrRead: boolean;
}

const btfPath = "/sys/kernel/btf/vmlinux";

/** Looks at this kernel's features (needs root for the ring buffer probe). */
export function kernelFeatures(): KernelFeatures {
  let btf: Uint8Array | undefined;
  try {
    btf = Deno.readFileSync(btfPath);
  } catch {
    btf = undefined;
  }
  const release = Deno.osRelease();
  return {
    release,
    // Asked of the kernel only where its version says no (a backport may
    // have them): libbpf's probe needs privileges, and an unprivileged run
    // must fail on those, not as a kernel without ring buffers.
    ringBuffer: atLeast(release, 5, 8) || hasRingBuffer(),
    uprobePmu: hasUprobePmu(),
    btf: btf !== undefined,
    // A kfunc is a BTF function name; the string table holds it whole.
    dynptrRead: btf !== undefined &&
      new TextDecoder("latin1").decode(btf).includes(
        "\0bpf_probe_read_user_dynptr\0",
      ),
  };
}

/**
 * Throws an {@linkcode EnvironmentError} (exit code 3) naming the first
 * required feature `features` lack, in one line with the kernel release.
 */
export function requireFeatures(features: KernelFeatures): void {
  const { release } = features;
  if (!features.ringBuffer) {
    throw new EnvironmentError(
      `Cannot trace on kernel ${release}: it has no BPF ring buffer (BPF_MAP_TYPE_RINGBUF, Linux 5.8+). Upgrade the kernel.`,
    );
  }
  if (!features.uprobePmu) {
    throw new EnvironmentError(
      `Cannot trace on kernel ${release}: it has no uprobe PMU (${uprobePmuPath}; CONFIG_UPROBE_EVENTS, Linux 4.17+). Use a kernel built with uprobe events.`,
    );
  }
}

/** The programs to try, in order, and why. */
export interface KindChoice {
  /** Programs to load, the first the kernel accepts wins. */
  kinds: ProbeKind[];
  /** Why, for the log. */
  why: string;
}

/** Chooses the program for `features`; `forced` (a test's choice) wins. */
export function chooseKind(
  features: KernelFeatures,
  forced?: ProbeKind,
): KindChoice {
  if (forced) return { kinds: [forced], why: "asked for by the caller" };
  if (features.dynptrRead) {
    return {
      kinds: ["dynptr", "classes"],
      why:
        "the kernel has bpf_probe_read_user_dynptr (6.16+): exact-size records up to 4 MiB",
    };
  }
  return {
    kinds: ["classes"],
    why: features.btf
      ? "the kernel lacks bpf_probe_read_user_dynptr (6.16+): size-class records up to 256 KiB"
      : "the kernel has no BTF, so no kfuncs: size-class records up to 256 KiB",
  };
}

/** True when `release` (uname -r) is `major`.`minor` or later. */
export function atLeast(
  release: string,
  major: number,
  minor: number,
): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

function hasUprobePmu(): boolean {
  try {
    uprobeType();
    return true;
  } catch {
    return false;
  }
}
