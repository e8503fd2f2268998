/**
 * How `--target` paths are read: a relative path means the directory the
 * user typed the command in, also through `./task run` (which runs in the
 * repository), and a wrong one is reported with the path that was tried.
 */
import assert from "node:assert/strict";
import { root } from "../testing/harness.ts";

Deno.test("./task run --target ./x resolves x against the caller's directory and names the resolved path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-cwd-" });
  try {
    const out = await new Deno.Command(`${root}task`, {
      args: ["run", "--target", "./missing", "--no-status"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, new RegExp(`Cannot open target ${dir}/missing: `));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
