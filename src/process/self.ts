/**
 * Where spanbridge itself runs: in a container or on the host. It changes
 * the advice an error gives (in a container, a permission error on another
 * process's /proc entries is fixed by a capability, not by another user).
 *
 * @module
 */

import { parseCgroup } from "./cgroup.ts";

/** The places {@linkcode runsInContainer} looks at (parameters for tests). */
export interface SelfPaths {
  /** This process's cgroup file (default /proc/self/cgroup). */
  cgroup: string;
  /** Files a container runtime puts in a container's root (Podman, Docker). */
  markers: string[];
}

const defaultPaths: SelfPaths = {
  cgroup: "/proc/self/cgroup",
  markers: ["/run/.containerenv", "/.dockerenv"],
};

let cached: boolean | undefined;

/**
 * True when this process runs in a container: its cgroup path names one (a
 * host cgroup namespace), or the runtime's marker file is in its root (a
 * private cgroup namespace), or Kubernetes gave it its service variables.
 * Read once; `paths` and `env` are for tests (no caching then).
 */
export function runsInContainer(
  paths?: SelfPaths,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): boolean {
  if (!paths && cached !== undefined) return cached;
  const p = paths ?? defaultPaths;
  let cgroup = "";
  try {
    cgroup = Deno.readTextFileSync(p.cgroup);
  } catch {
    // Unreadable: the other signs decide.
  }
  const inside = parseCgroup(cgroup).containerId !== undefined ||
    p.markers.some((m) => exists(m)) ||
    env("KUBERNETES_SERVICE_HOST") !== undefined;
  if (!paths) cached = inside;
  return inside;
}

/**
 * What to do about a permission error on another process (`what`: "inspect
 * process 42"): in a container, add CAP_SYS_PTRACE; on a host, run as root
 * or as the process's owner.
 */
export function accessAdvice(inContainer: boolean = runsInContainer()): string {
  return inContainer
    ? "spanbridge runs in a container: give it CAP_SYS_PTRACE (podman or docker run --cap-add=CAP_SYS_PTRACE; on Kubernetes, securityContext.capabilities.add: [SYS_PTRACE]), which lets it read processes of other users and with more capabilities than its own"
    : "run spanbridge as root or as the user who owns the process";
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
