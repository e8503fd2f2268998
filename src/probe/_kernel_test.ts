import assert from "node:assert/strict";
import { EnvironmentError } from "../errors.ts";
import { ebpfTest } from "../../testing/ebpf.ts";
import {
  atLeast,
  chooseKind,
  type KernelFeatures,
  kernelFeatures,
  requireFeatures,
} from "./_kernel.ts";

const full: KernelFeatures = {
  release: "6.1.0-57-amd64",
  ringBuffer: true,
  uprobePmu: true,
  btf: true,
  dynptrRead: false,
};

Deno.test("requireFeatures refuses a kernel without BPF ring buffers in one line naming it", () => {
  assert.throws(
    () => requireFeatures({ ...full, release: "5.4.0-150", ringBuffer: false }),
    (e) =>
      e instanceof EnvironmentError &&
      e.message ===
        "Cannot trace on kernel 5.4.0-150: it has no BPF ring buffer (BPF_MAP_TYPE_RINGBUF, Linux 5.8+). Upgrade the kernel.",
  );
});

Deno.test("requireFeatures refuses a kernel without the uprobe PMU", () => {
  assert.throws(
    () => requireFeatures({ ...full, uprobePmu: false }),
    (e) =>
      e instanceof EnvironmentError &&
      /^Cannot trace on kernel 6\.1\.0-57-amd64: it has no uprobe PMU/.test(
        e.message,
      ) && !e.message.includes("\n"),
  );
});

Deno.test("requireFeatures accepts a kernel without BTF (only --all's exec events need it)", () => {
  requireFeatures({ ...full, btf: false });
});

Deno.test("chooseKind takes dynptr first where the kernel has the kfunc, else size classes, and says why", () => {
  const dynptr = chooseKind({ ...full, dynptrRead: true });
  assert.deepEqual(dynptr.kinds, ["dynptr", "classes"]);
  assert.match(dynptr.why, /has bpf_probe_read_user_dynptr/);
  const classes = chooseKind(full);
  assert.deepEqual(classes.kinds, ["classes"]);
  assert.match(classes.why, /lacks bpf_probe_read_user_dynptr/);
  assert.match(chooseKind({ ...full, btf: false }).why, /no BTF/);
  assert.deepEqual(chooseKind(full, "dynptr").kinds, ["dynptr"]);
});

ebpfTest(
  "kernelFeatures finds ring buffers, the uprobe PMU and BTF on this machine's kernel",
  () => {
    const f = kernelFeatures();
    assert.equal(f.release, Deno.osRelease());
    assert.ok(f.ringBuffer && f.uprobePmu && f.btf, JSON.stringify(f));
    requireFeatures(f);
  },
);

Deno.test("atLeast compares a release string's major and minor", () => {
  assert.equal(atLeast("5.10.0-46-amd64", 5, 8), true);
  assert.equal(atLeast("5.4.0-150-generic", 5, 8), false);
  assert.equal(atLeast("6.1.0", 5, 15), true);
  assert.equal(atLeast("4.18.0-553.el8", 5, 8), false);
  assert.equal(atLeast("weird", 5, 8), false);
});
