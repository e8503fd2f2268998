import assert from "node:assert/strict";
import {
  checkoutImageRef,
  contextFiles,
  imageRef,
  inputsHash,
} from "./image.ts";
import config from "../deno.json" with { type: "json" };

Deno.test("imageRef is localhost/spanbridge tagged with the version in deno.json", () => {
  assert.equal(imageRef, `localhost/spanbridge:${config.version}`);
});

Deno.test("checkoutImageRef is imageRef with a tag suffix of its own for each checkout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-image-ref-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await Deno.symlink(`${dir}/a`, `${dir}/link-to-a`);
    const a = checkoutImageRef(`${dir}/a`);
    // A valid tag (OCI distribution spec): at most 128 characters.
    assert.match(a, /^localhost\/spanbridge:[\w][\w.-]{0,127}$/);
    assert.ok(a.startsWith(`${imageRef}-`), a);
    assert.equal(checkoutImageRef(`${dir}/a`), a);
    assert.equal(checkoutImageRef(`${dir}/link-to-a`), a, "same checkout");
    assert.notEqual(checkoutImageRef(`${dir}/b`), a);
    assert.notEqual(checkoutImageRef(), imageRef);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
