import assert from "node:assert/strict";
import { formatSize, parseSize } from "./size.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseSize reads plain bytes and K/M/G suffixes", () => {
  assert.equal(parseSize("4096", "x"), 4096);
  assert.equal(parseSize("64K", "x"), 65536);
  assert.equal(parseSize("32M", "x"), 32 << 20);
  assert.equal(parseSize("1GiB", "x"), 1 << 30);
  assert.equal(parseSize("2m", "x"), 2 << 20);
});

Deno.test("parseSize rejects junk with the setting's name", () => {
  assert.throws(
    () => parseSize("lots", "ring size"),
    (e) =>
      e instanceof UsageError && /Invalid ring size "lots"/.test(e.message),
  );
  assert.throws(() => parseSize("-1M", "ring size"), UsageError);
});

Deno.test("formatSize writes the largest whole unit, and parseSize reads it back", () => {
  const cases: [number, string][] = [
    [4096, "4K"],
    [256 << 10, "256K"],
    [16 << 20, "16M"],
    [1536 << 10, "1536K"],
    [4 * 1024 ** 3, "4G"],
    [1000, "1000"],
  ];
  for (const [bytes, text] of cases) {
    assert.equal(formatSize(bytes), text);
    assert.equal(parseSize(text, "x"), bytes);
  }
});
