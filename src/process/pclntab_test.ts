import assert from "node:assert/strict";
import { binary, run } from "../../testing/go_binaries.ts";
import { symbolAddress } from "../../testing/symbols.ts";
import { assertTargetError } from "../../testing/target_error.ts";
import { ElfFile } from "./elf.ts";
import { findTextStart } from "./moduledata.ts";
import { locatePclnTab, parsePclnTab } from "./pclntab.ts";
import { probeFunction } from "./resolve.ts";

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
    const tab = await parsePclnTab(loc.range, path);
    assert.equal(tab.magic, 0xfffffff1);
    assert.equal(tab.ptrSize, 8);
    assert.ok(tab.nfunc > 100);
    const goVersion = (await run(["go", "env", "GOVERSION"])).trim();
    // Go 1.26 stopped writing runtime.text into the header.
    if (/^go1\.(2[6-9]|[3-9]\d)/.test(goVersion)) {
      assert.equal(tab.textStart, 0);
    }
    const text = await findTextStart(elf, loc, tab);
    assert.equal(text, await symbolAddress(path, "runtime.text"));
    // External linking puts C start-up code first: .text is not runtime.text.
    assert.notEqual(text, elf.section(".text")?.addr);
    const [main] = await tab.find("main.main");
    assert.equal(
      text! + main.entryOffset,
      await symbolAddress(path, "main.main"),
    );
  });
});

Deno.test("parsePclnTab lists both the body and the wrapper of ended under one name", async () => {
  const path = await binary("sdk-wrapper-stripped");
  await withElf(path, async (elf) => {
    const loc = await locatePclnTab(elf);
    const tab = await parsePclnTab(loc!.range, path);
    const found = await tab.find(probeFunction);
    assert.equal(found.length, 2);
    assert.deepEqual(
      await tab.find("/sdk/internal/handoff.ended", true),
      found,
    );
    assert.deepEqual(await tab.find("no.such.function"), []);
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

Deno.test("parsePclnTab refuses _func records out of the linker's order instead of reading per function", async () => {
  // Two functions named "a" whose records go backwards: followed, a crafted
  // table could cost one read per function.
  const b = new Uint8Array(256);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xfffffff1, true);
  b[6] = 1;
  b[7] = 8;
  [2, 1, 0, 72, 0, 0, 0, 100].forEach((w, i) =>
    v.setBigUint64(8 + 8 * i, BigInt(w), true)
  );
  b[72] = 0x61; // funcnametab: "a"
  v.setUint32(104, 140, true); // function 0's record at 100 + 140
  v.setUint32(112, 8, true); // function 1's record at 100 + 8, behind it
  const tab = await parsePclnTab(b, "crafted");
  await assertTargetError(
    tab.find("a"),
    "unreadable",
    /function 1 is out of order/,
  );
});

Deno.test("locatePclnTab finds nothing in a C binary", async () => {
  await withElf(await binary("c-plain"), async (elf) => {
    assert.equal(await locatePclnTab(elf), undefined);
  });
});
