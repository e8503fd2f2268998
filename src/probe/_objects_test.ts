import assert from "node:assert/strict";
import { kernelVersion, pickKind } from "./_objects.ts";
import { EnvironmentError } from "../errors.ts";

Deno.test("pickKind refuses a kernel without BPF ring buffers with an EnvironmentError", () => {
  assert.throws(
    () => pickKind("5.4.0-150-generic"),
    (e) =>
      e instanceof EnvironmentError &&
      e.message ===
        "Cannot trace on kernel 5.4.0-150-generic: BPF ring buffers need Linux 5.8 or later. Upgrade the kernel.",
  );
});

Deno.test("pickKind picks size classes on a 5.8+ kernel without BTF", () => {
  assert.equal(pickKind("5.15.0", "/nonexistent/vmlinux"), "classes");
});

Deno.test("kernelVersion reads major and minor of a release string", () => {
  assert.deepEqual(kernelVersion("6.18.2-arch1"), [6, 18]);
  assert.deepEqual(kernelVersion("weird"), [0, 0]);
});
