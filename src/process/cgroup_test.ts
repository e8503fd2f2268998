import assert from "node:assert/strict";
import { parseCgroup } from "./cgroup.ts";

const id = "3f4a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90";
const uid = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";
const uid_ = uid.replaceAll("-", "_");

const cases: [string, string, { containerId?: string; podUid?: string }][] = [
  [
    "host process, cgroup v2",
    "0::/user.slice/user-0.slice/session-3.scope",
    {},
  ],
  [
    "host process, cgroup v1",
    "12:pids:/user.slice\n4:memory:/user.slice\n1:name=systemd:/user.slice/session-3.scope\n0::/",
    {},
  ],
  ["Docker, cgroupfs v1", `11:memory:/docker/${id}\n1:cpu:/docker/${id}`, {
    containerId: id,
  }],
  ["Docker, systemd v2", `0::/system.slice/docker-${id}.scope`, {
    containerId: id,
  }],
  [
    "Podman on this machine, cgroupfs v1",
    `13:pids:/libpod_parent/libpod-${id}\n1:name=systemd:/libpod_parent/libpod-${id}`,
    { containerId: id },
  ],
  ["Podman, systemd v2", `0::/machine.slice/libpod-${id}.scope/container`, {
    containerId: id,
  }],
  [
    "Podman rootless, v2",
    `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${id}.scope/container`,
    { containerId: id },
  ],
  [
    "Podman's conmon is not the container",
    `0::/machine.slice/libpod-conmon-${id}.scope`,
    {},
  ],
  [
    "Kubernetes pod, cgroupfs (this machine's kubelet)",
    `5:memory:/kubepods/besteffort/pod${uid}/${id}`,
    { containerId: id, podUid: uid },
  ],
  [
    "Kubernetes guaranteed pod, containerd, systemd v2",
    `0::/kubepods.slice/kubepods-pod${uid_}.slice/cri-containerd-${id}.scope`,
    { containerId: id, podUid: uid },
  ],
  [
    "Kubernetes burstable pod, containerd, systemd v1",
    `4:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid_}.slice/cri-containerd-${id}.scope`,
    { containerId: id, podUid: uid },
  ],
  [
    "Kubernetes besteffort pod, CRI-O, systemd v2",
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid_}.slice/crio-${id}.scope`,
    { containerId: id, podUid: uid },
  ],
  [
    "Kubernetes pod, CRI-O, cgroupfs",
    `3:cpu:/kubepods/burstable/pod${uid}/crio-${id}`,
    { containerId: id, podUid: uid },
  ],
  [
    "pod sandbox cgroup without a container",
    `0::/kubepods/besteffort/pod${uid}`,
    { podUid: uid },
  ],
  [
    "agent in its own cgroup namespace sees relative paths",
    `0::/../../kubepods/besteffort/pod${uid}/${id}`,
    { containerId: id, podUid: uid },
  ],
  [
    "a short hex name is not a container id",
    "0::/system.slice/abc123.scope",
    {},
  ],
  ["empty file", "", {}],
];

for (const [name, text, want] of cases) {
  Deno.test(`parseCgroup reads ${name}`, () => {
    assert.deepEqual(parseCgroup(text), want);
  });
}
