import assert from "node:assert/strict";
import {
  isProductFile,
  productImportsOfTestSupport,
  testSupportImports,
} from "./check_product_imports.ts";

Deno.test("testSupportImports finds static, re-exported and dynamic imports of test support", () => {
  const text = [
    'import { a } from "../../testing/probe.ts";',
    'export { b } from "../../tests/x.ts";',
    "const c = await import(",
    '  "../../bench/receiver.ts");',
    'import "../../testing/side_effect.ts";',
    'import { d } from "../otlp/mod.ts";',
    'import { e } from "node:assert";',
    'import { f } from "./testing.ts";',
  ].join("\n");
  assert.deepEqual(
    testSupportImports("src/probe/x.ts", text).map((
      v,
    ) => [v.line, v.specifier]),
    [
      [1, "../../testing/probe.ts"],
      [2, "../../tests/x.ts"],
      [3, "../../bench/receiver.ts"],
      [5, "../../testing/side_effect.ts"],
    ],
  );
});

Deno.test("isProductFile is every src/ TypeScript file except tests", () => {
  assert.equal(isProductFile("src/probe/mod.ts"), true);
  assert.equal(isProductFile("src/probe/_instance.ts"), true);
  assert.equal(isProductFile("src/probe/mod_test.ts"), false);
  assert.equal(isProductFile("testing/probe.ts"), false);
  assert.equal(isProductFile("bench/main.ts"), false);
});

Deno.test("productImportsOfTestSupport flags product files only, and this repository has none", () => {
  const root = Deno.makeTempDirSync({ prefix: "spanbridge-check-imports-" });
  try {
    Deno.mkdirSync(`${root}/src/a`, { recursive: true });
    const bad = 'import { x } from "../../testing/x.ts";\n';
    Deno.writeTextFileSync(`${root}/src/a/product.ts`, bad);
    Deno.writeTextFileSync(`${root}/src/a/product_test.ts`, bad);
    assert.deepEqual(productImportsOfTestSupport(root), [
      { file: "src/a/product.ts", line: 1, specifier: "../../testing/x.ts" },
    ]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
  const repo = new URL("..", import.meta.url).pathname;
  assert.deepEqual(productImportsOfTestSupport(repo), []);
});
