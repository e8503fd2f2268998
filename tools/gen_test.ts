import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { generate } from "./gen.ts";

const committed = fileURLToPath(new URL("../gen", import.meta.url));

async function readTree(
  dir: string,
  prefix = "",
): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      for (const [k, v] of await readTree(dir, rel)) files.set(k, v);
    } else {
      files.set(rel, await Deno.readTextFile(`${dir}/${rel}`));
    }
  }
  return files;
}

Deno.test("generate reproduces the committed gen/ exactly", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "spanbridge-gen-test-" });
  try {
    await generate(`${tmp}/gen`);
    const fresh = await readTree(`${tmp}/gen`);
    const current = await readTree(committed);
    deepStrictEqual([...current.keys()].sort(), [...fresh.keys()].sort());
    for (const [name, text] of fresh) {
      strictEqual(
        current.get(name),
        text,
        `gen/${name} differs from a fresh generation: run deno run -A tools/gen.ts`,
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
