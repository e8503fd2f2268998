import assert from "node:assert/strict";
import { SysError } from "./errors.ts";
import { BPF_FS_MAGIC, fsType } from "./statfs.ts";

Deno.test("fsType tells bpffs from other file systems", () => {
  const procMagic = 0x9fa0;
  assert.equal(fsType("/proc"), procMagic);
  assert.notEqual(fsType("/tmp"), BPF_FS_MAGIC);
});

Deno.test("fsType names the path it cannot check", () => {
  assert.throws(
    () => fsType("/nonexistent/spanbridge"),
    (e) =>
      e instanceof SysError && e.message.includes("/nonexistent/spanbridge"),
  );
});
