/**
 * Container and Kubernetes pod identity from a process's cgroup paths
 * (/proc/<pid>/cgroup), for the `container.id` and `k8s.pod.uid` resource
 * attributes of the OpenTelemetry semantic conventions.
 *
 * Container runtimes name a container's cgroup after its 64-hex-digit id,
 * with a runtime prefix under systemd and often without one under cgroupfs:
 *
 * | runtime (driver)          | last path elements                                             |
 * | ------------------------- | -------------------------------------------------------------- |
 * | Docker (cgroupfs)         | `/docker/<id>`                                                 |
 * | Docker (systemd)          | `/system.slice/docker-<id>.scope`                              |
 * | Podman (cgroupfs)         | `/libpod_parent/libpod-<id>`                                   |
 * | Podman (systemd)          | `/machine.slice/libpod-<id>.scope[/container]`                 |
 * | containerd CRI (cgroupfs) | `/kubepods/<qos>/pod<uid>/<id>`                                |
 * | containerd CRI (systemd)  | `…/kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope`   |
 * | CRI-O (systemd, cgroupfs) | `…/crio-<id>.scope`, `…/pod<uid>/crio-<id>`                     |
 *
 * The same rules read cgroup v1 lines (`<n>:<controllers>:<path>`) and the
 * v2 line (`0::<path>`). Podman's `libpod-conmon-<id>` is the monitor of a
 * container, not the container, and is not taken for it.
 *
 * @module
 */

/** What the cgroup paths of a process say about where it runs. */
export interface ContainerIdentity {
  /** The container id (64 lowercase hex digits), when it runs in a container. */
  containerId?: string;
  /** The Kubernetes pod UID (with dashes), when the path names a pod. */
  podUid?: string;
}

const hexId = /^[0-9a-f]{64}$/;
const runtimePrefix = /^(?:docker|libpod|cri-containerd|crio|containerd)-/;
// cgroupfs: pod<uid>; systemd: kubepods[-<qos>]-pod<uid with _>.slice
const podElement =
  /^(?:kubepods(?:-[a-z]+)?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** Reads the identity from the text of a /proc/<pid>/cgroup file. */
export function parseCgroup(text: string): ContainerIdentity {
  let containerId: string | undefined;
  let podUid: string | undefined;
  for (const line of text.split("\n")) {
    // The path is everything after the second colon (it may hold colons).
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    if (second < 0) continue;
    const elements = line.slice(second + 1).split("/");
    containerId ??= containerIdOf(elements);
    podUid ??= podUidOf(elements);
  }
  return {
    ...(containerId && { containerId }),
    ...(podUid && { podUid }),
  };
}

function containerIdOf(elements: string[]): string | undefined {
  // The innermost element that names a container wins (a container's own
  // sub-cgroups, such as Podman's "container", come after it).
  for (let i = elements.length - 1; i >= 0; i--) {
    const e = elements[i];
    if (e.startsWith("libpod-conmon-")) return undefined;
    const id = e.replace(/\.scope$/, "").replace(runtimePrefix, "");
    if (hexId.test(id)) return id;
  }
  return undefined;
}

function podUidOf(elements: string[]): string | undefined {
  for (const e of elements) {
    const m = podElement.exec(e);
    if (m) return m[1].replaceAll("_", "-");
  }
  return undefined;
}
