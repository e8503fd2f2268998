import assert from "node:assert/strict";
import { contextFiles, imageRef, inputsHash } from "./image.ts";
import config from "../deno.json" with { type: "json" };

Deno.test("imageRef is localhost/spanbridge tagged with the version in deno.json", () => {
  assert.equal(imageRef, `localhost/spanbridge:${config.version}`);
});

Deno.test("contextFiles holds Deno, the entry script, the controller's sources and probe objects, and no tests", () => {
  const files = contextFiles();
  const dests = [...files.keys()];
  assert.ok(files.get("deno")?.endsWith("/deno"));
  assert.ok(files.get("spanbridge")?.endsWith("deploy/image/spanbridge"));
  for (const f of ["app/src/main.ts", "app/deno.json", "app/deno.lock"]) {
    assert.ok(dests.includes(f), f);
  }
  assert.ok(dests.some((d) => d.startsWith("app/gen/")), "generated OTLP code");
  assert.ok(
    dests.some((d) => /^app\/build\/bpf\/ended_dynptr\.x86\.o$/.test(d)),
  );
  assert.deepEqual(
    dests.filter((d) => /_test\.|_test_utils/.test(d)),
    [],
    "test files in the image",
  );
});

Deno.test("inputsHash changes with a file's content, its executable bit and the base image", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-image-hash-" });
  try {
    const file = `${dir}/entry`;
    await Deno.writeTextFile(file, "one");
    await Deno.chmod(file, 0o644);
    const files = new Map([["entry", file]]);
    const first = await inputsHash("base:1", files);
    assert.equal(await inputsHash("base:1", files), first);
    assert.notEqual(await inputsHash("base:2", files), first);
    await Deno.chmod(file, 0o755);
    const executable = await inputsHash("base:1", files);
    assert.notEqual(executable, first);
    await Deno.writeTextFile(file, "two");
    assert.notEqual(await inputsHash("base:1", files), executable);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
