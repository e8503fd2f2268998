import assert from "node:assert/strict";
import { Processes } from "./processes.ts";

Deno.test("Processes gives one metadata object per process, so its resource is merged once", async () => {
  const processes = new Processes(() => undefined);
  try {
    const a = await processes.get(Deno.pid);
    const b = await processes.get(Deno.pid);
    assert.equal(a, b);
    assert.equal(a.pid, Deno.pid);
    assert.ok(a.exePath, "this process's executable is described");
    const gone = await processes.get(999_999_999);
    assert.deepEqual(gone, { pid: 999_999_999 });
    assert.equal(await processes.get(999_999_999), gone);
  } finally {
    processes.close();
  }
});
