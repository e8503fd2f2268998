import assert from "node:assert/strict";
import { EnvironmentError } from "../errors.ts";
import { perfLinkMissing, readUprobeType, SysError } from "./mod.ts";

Deno.test("readUprobeType names a kernel without the uprobe PMU in one line", () => {
  const path = "/nonexistent/uprobe/type";
  assert.throws(
    () => readUprobeType(path),
    (e) =>
      e instanceof EnvironmentError &&
      e.message.startsWith(`Cannot open uprobes: ${path} is unreadable (`) &&
      e.message.includes("CONFIG_UPROBE_EVENTS") &&
      !e.message.includes("\n"),
  );
});

Deno.test("readUprobeType reads the PMU type number", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "8\n");
    assert.equal(readUprobeType(file), 8);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("perfLinkMissing is bpf_link_create's EINVAL only (kernels before 5.15), not another call or errno", () => {
  assert.equal(
    perfLinkMissing(new SysError("bpf_link_create", "Cannot attach", 22)),
    true,
  );
  assert.equal(
    perfLinkMissing(new SysError("bpf_link_create", "Cannot attach", 1)),
    false,
  );
  assert.equal(
    perfLinkMissing(new SysError("perf_event_open", "Cannot open", 22)),
    false,
  );
  assert.equal(perfLinkMissing(new Error("EINVAL")), false);
});
