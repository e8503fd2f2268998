/**
 * Part of `deno task check`: product code never imports test support. Every
 * TypeScript file under src/ that is not a test (`*_test.ts`) is product code;
 * an import of it that leads into testing/, tests/ or bench/ fails the check,
 * naming the file, the line and the rule.
 *
 * ```sh
 * deno run --allow-read tools/check_product_imports.ts
 * ```
 *
 * @module
 */

import { dirname, join, normalize, relative } from "node:path";

/** Folders of test support and measurement that product code must not import. */
export const testSupportDirs = ["testing", "tests", "bench"];

/** One import of test support by product code. */
export interface Violation {
  /** The importing file, relative to the repository root. */
  file: string;
  /** 1-based line of the import. */
  line: number;
  /** The specifier as written. */
  specifier: string;
}

// `from "x"` (import and export), `import "x"` and `import("x")`.
const specifierRe = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;

/** The imports of test support in `text`, the source of `file` (relative to the root). */
export function testSupportImports(file: string, text: string): Violation[] {
  const found: Violation[] = [];
  for (const m of text.matchAll(specifierRe)) {
    const specifier = m[1];
    if (!specifier.startsWith(".")) continue;
    const target = normalize(join(dirname(file), specifier));
    const top = target.split("/")[0];
    if (!testSupportDirs.includes(top)) continue;
    const line = text.slice(0, m.index).split("\n").length;
    found.push({ file, line, specifier });
  }
  return found;
}

/** Whether `file` (relative to the root) is product code: under src/ and not a test. */
export function isProductFile(file: string): boolean {
  return file.startsWith("src/") && file.endsWith(".ts") &&
    !file.endsWith("_test.ts");
}

/** Every import of test support by product code in the repository at `root`. */
export function productImportsOfTestSupport(root: string): Violation[] {
  const found: Violation[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) walk(path);
      const file = relative(root, path);
      if (e.isFile && isProductFile(file)) {
        found.push(...testSupportImports(file, Deno.readTextFileSync(path)));
      }
    }
  };
  walk(join(root, "src"));
  return found;
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  const found = productImportsOfTestSupport(root);
  for (const v of found) {
    console.error(
      `${v.file}:${v.line}: imports "${v.specifier}": product code (src/ ` +
        `except *_test.ts files) never imports test support (${
          testSupportDirs.map((d) => `${d}/`).join(", ")
        }); move the helper into testing/ and import it from a test, or ` +
        "into src/ if the product needs it.",
    );
  }
  if (found.length > 0) Deno.exit(1);
}
