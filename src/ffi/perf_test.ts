import assert from "node:assert/strict";
import { EnvironmentError } from "../errors.ts";
import { readUprobeType } from "./mod.ts";

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
