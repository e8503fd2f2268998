import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { buildBpf } from "./build_bpf.ts";

Deno.test("buildBpf builds every probe for x86 and arm64 and skips up-to-date objects", async () => {
  const out = Deno.makeTempDirSync({ prefix: "spanbridge-bpf-build-" });
  try {
    const objects = await buildBpf(out);
    for (const kind of ["dynptr", "classes"]) {
      for (const arch of ["x86", "arm64"]) {
        assertEquals(objects.includes(`${out}/ended_${kind}.${arch}.o`), true);
      }
    }
    const times = objects.map((o) => Deno.statSync(o).mtime?.getTime());
    assertEquals(await buildBpf(out), objects);
    assertEquals(objects.map((o) => Deno.statSync(o).mtime?.getTime()), times);
  } finally {
    Deno.removeSync(out, { recursive: true });
  }
});
