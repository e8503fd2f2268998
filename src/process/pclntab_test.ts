import assert from "node:assert/strict";
import { assertTargetError, binary, run } from "./_test_binaries.ts";
import { ElfFile } from "./elf.ts";
import { findTextStart } from "./moduledata.ts";
import { locatePclnTab, parsePclnTab } from "./pclntab.ts";
import { probeFunction } from "./resolve.ts";

/** The address `go tool nm` gives for `sym`. */
async function nmAddress(path: string, sym: string): Promise<number> {
  const line = (await run(["go", "tool", "nm", path])).split("\n")
    .find((l) => l.trim().split(/\s+/)[2] === sym);
  assert.ok(line !== undefined, `no ${sym} in ${path}`);
  return parseInt(line.trim(), 16);
}

async function withElf<T>(
  path: string,
  fn: (elf: ElfFile) => Promise<T>,
): Promise<T> {
  const elf = await ElfFile.open(path);
  try {
    return await fn(elf);
  } finally {
    elf.close();
  }
}

Deno.test("parsePclnTab reads the Go 1.20+ header and finds functions at the addresses nm gives", async () => {
  const path = await binary("sdk-external");
  await withElf(path, async (elf) => {
    const loc = await locatePclnTab(elf);
    assert.ok(loc !== undefined);
    const tab = parsePclnTab(await loc.read(), path);
    assert.equal(tab.magic, 0xfffffff1);
    assert.equal(tab.ptrSize, 8);
    assert.ok(tab.nfunc > 100);
    const goVersion = (await run(["go", "env", "GOVERSION"])).trim();
    // Go 1.26 stopped writing runtime.text into the header.
    if (/^go1\.(2[6-9]|[3-9]\d)/.test(goVersion)) {
      assert.equal(tab.textStart, 0);
    }
    const text = await findTextStart(elf, loc, tab);
    assert.equal(text, await nmAddress(path, "runtime.text"));
    // External linking puts C start-up code first: .text is not runtime.text.
    assert.notEqual(text, elf.section(".text")?.addr);
    const [main] = tab.find("main.main");
    assert.equal(text! + main.entryOffset, await nmAddress(path, "main.main"));
  });
});

Deno.test("parsePclnTab lists both the body and the wrapper of ended under one name", async () => {
  const path = await binary("sdk-wrapper-stripped");
  await withElf(path, async (elf) => {
    const loc = await locatePclnTab(elf);
    const tab = parsePclnTab(await loc!.read(), path);
    const found = tab.find(probeFunction);
    assert.equal(found.length, 2);
    assert.deepEqual(tab.find("/sdk/internal/handoff.ended", true), found);
    assert.deepEqual(tab.find("no.such.function"), []);
  });
});

Deno.test("parsePclnTab reports pre-1.18 tables, unknown magics and bad offsets as unreadable", async () => {
  const header = (magic: number, words: number[]) => {
    const b = new Uint8Array(256);
    const v = new DataView(b.buffer);
    v.setUint32(0, magic, true);
    b[6] = 1;
    b[7] = 8;
    words.forEach((w, i) => v.setBigUint64(8 + 8 * i, BigInt(w), true));
    return b;
  };
  const err = (f: () => unknown) =>
    assertTargetError(Promise.resolve().then(f), "unreadable");
  const old = await err(() => parsePclnTab(header(0xfffffffb, []), "old"));
  assert.match(old.message, /older than 1\.18/);
  assert.match(
    (await err(() => parsePclnTab(header(0x12345678, []), "junk"))).message,
    /0x12345678/,
  );
  assert.match(
    (await err(() =>
      parsePclnTab(header(0xfffffff1, [1000, 1, 0, 72, 0, 0, 0, 100]), "big")
    )).message,
    /function count 1000 does not fit/,
  );
  assert.match(
    (await err(() =>
      parsePclnTab(header(0xfffffff1, [1, 1, 0, 9999, 0, 0, 0, 100]), "far")
    )).message,
    /point past its end/,
  );
});

Deno.test("locatePclnTab finds nothing in a C binary", async () => {
  await withElf(await binary("c-plain"), async (elf) => {
    assert.equal(await locatePclnTab(elf), undefined);
  });
});
