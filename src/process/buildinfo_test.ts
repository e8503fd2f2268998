import assert from "node:assert/strict";
import { binary, run } from "../../testing/go_binaries.ts";
import { parseModInfo, readBuildInfo } from "./buildinfo.ts";
import { ElfFile } from "./elf.ts";

async function buildInfoOf(path: string) {
  const elf = await ElfFile.open(path);
  try {
    return await readBuildInfo(elf);
  } finally {
    elf.close();
  }
}

Deno.test("readBuildInfo reads what go version -m prints", async () => {
  for (const name of ["sdk", "sdk-arm64-stripped", "go-plain"] as const) {
    const path = await binary(name);
    const info = await buildInfoOf(path);
    assert.ok(info !== undefined, name);
    const m = await run(["go", "version", "-m", path]);
    assert.ok(m.startsWith(`${path}: ${info.goVersion}\n`), name);
    assert.match(m, new RegExp(`^\\tpath\\t${info.path}$`, "m"));
    assert.match(
      m,
      new RegExp(
        `^\\tmod\\t${info.mainModule.path}\\t${
          info.mainModule.version.replace(/[()]/g, "\\$&")
        }`,
        "m",
      ),
    );
    for (const [k, v] of Object.entries(info.settings)) {
      assert.ok(m.includes(`\tbuild\t${k}=`), `${name}: ${k}=${v}`);
    }
    assert.equal(info.settings.GOOS, "linux");
  }
  const sdk = await buildInfoOf(await binary("sdk"));
  assert.equal(sdk?.mainModule.path, "github.com/spanbridge/spanbridge/go");
  assert.equal(
    sdk?.path,
    "github.com/spanbridge/spanbridge/go/sdk/internal/handoff/zz_target_test",
  );
  assert.equal(
    (await buildInfoOf(await binary("sdk-arm64-stripped")))
      ?.settings["-ldflags"],
    "-s -w",
  );
  assert.equal(
    (await buildInfoOf(await binary("go-plain")))?.mainModule.path,
    "example.com/plain",
  );
});

Deno.test("readBuildInfo returns undefined for a C binary", async () => {
  assert.equal(await buildInfoOf(await binary("c-plain")), undefined);
});

Deno.test("parseModInfo reads modules, replacements and quoted build settings", () => {
  const info = parseModInfo(
    "go1.26.8",
    [
      "path\texample.com/app/cmd/app",
      "mod\texample.com/app\tv1.2.3\th1:abc=",
      "dep\texample.com/lib\tv0.1.0\th1:def=",
      "=>\t../lib\t(devel)\t",
      "dep\texample.com/other\tv2.0.0",
      'build\t-ldflags="-s -w -X main.v=\\"1\\""',
      'build\t"odd key"=plain',
      "build\tvcs.revision=0123abcd",
      "build\tbroken",
      "",
    ].join("\n"),
  );
  assert.equal(info.goVersion, "go1.26.8");
  assert.equal(info.path, "example.com/app/cmd/app");
  assert.deepEqual(info.mainModule, {
    path: "example.com/app",
    version: "v1.2.3",
    sum: "h1:abc=",
  });
  assert.deepEqual(info.deps[0].replace, {
    path: "../lib",
    version: "(devel)",
  });
  assert.equal(info.deps[1].replace, undefined);
  assert.deepEqual(info.settings, {
    "-ldflags": '-s -w -X main.v="1"',
    "odd key": "plain",
    "vcs.revision": "0123abcd",
  });
});
