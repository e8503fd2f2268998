import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Links } from "./_links.ts";

Deno.test("links left by an earlier controller are adopted with the process each was for", () => {
  const dir = Deno.makeTempDirSync({ prefix: "spanbridge-links-test-" });
  try {
    for (const name of ["66_1234_4096", "66_1234_4096_777", "notes"]) {
      Deno.writeFileSync(`${dir}/${name}`, new Uint8Array());
    }
    const adopted = new Links(dir).list().map((
      { key, dev, ino, offset, pid, path },
    ) => ({ key, dev, ino, offset, pid, path }));
    assertEquals(
      adopted.sort((a, b) => a.key.localeCompare(b.key)),
      [
        {
          key: "66_1234_4096",
          dev: 66,
          ino: 1234,
          offset: 4096,
          pid: -1,
          path: null,
        },
        {
          key: "66_1234_4096_777",
          dev: 66,
          ino: 1234,
          offset: 4096,
          pid: 777,
          path: null,
        },
      ],
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
