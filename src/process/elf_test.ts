import assert from "node:assert/strict";
import { binary, run, testDir } from "../../testing/go_binaries.ts";
import { assertTargetError } from "../../testing/target_error.ts";
import {
  bytesRange,
  chunkBytes,
  ElfFile,
  findStrings,
  maxMatches,
  maxNameBytes,
  maxTableBytes,
  PT_LOAD,
  scan,
} from "./elf.ts";

/** Writes a 64-byte ELF header with the given class, data and machine. */
async function fakeElf(
  name: string,
  cls: number,
  data: number,
  machine: number,
): Promise<string> {
  const b = new Uint8Array(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, cls, data, 1]);
  new DataView(b.buffer).setUint16(18, machine, data === 1);
  const path = `${await testDir()}/${name}`;
  await Deno.writeFile(path, b);
  return path;
}

Deno.test("ElfFile reads the segments readelf shows", async () => {
  for (const name of ["sdk", "sdk-arm64"] as const) {
    const path = await binary(name);
    const elf = await ElfFile.open(path);
    try {
      const loads = (await run(["readelf", "-lW", path])).split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[0] === "LOAD")
        .map((f) => f.slice(1, 6).map((x) => parseInt(x, 16)));
      assert.deepEqual(
        elf.loads().map((p) => [p.offset, p.vaddr, p.vaddr, p.filesz, p.memsz]),
        loads,
      );
      assert.equal(elf.arch, name === "sdk" ? "x86_64" : "aarch64");
      assert.ok(elf.segments.some((p) => p.type === PT_LOAD));
    } finally {
      elf.close();
    }
  }
});

Deno.test("ElfFile finds function symbols with the values go tool nm prints", async () => {
  const path = await binary("sdk");
  const elf = await ElfFile.open(path);
  try {
    const syms = (await elf.functionSymbols(["main.main", "runtime.main"]))
      ?.filter((s) => s.name === "main.main" || s.name === "runtime.main");
    const nm = await run(["go", "tool", "nm", path]);
    for (const s of syms ?? []) {
      assert.match(
        nm,
        new RegExp(`^\\s*${s.value.toString(16)} T ${s.name}$`, "m"),
      );
    }
    assert.equal(syms?.length, 2);
    assert.ok(elf.section(".gopclntab") !== undefined);
  } finally {
    elf.close();
  }
});

Deno.test("ElfFile has no symbols for a stripped binary", async () => {
  const elf = await ElfFile.open(await binary("sdk-stripped"));
  try {
    assert.equal(await elf.functionSymbols(["main.main"]), undefined);
  } finally {
    elf.close();
  }
});

Deno.test("ElfFile maps an address to a file offset only inside a file-backed segment", async () => {
  const elf = await ElfFile.open(await binary("sdk-arm64"));
  try {
    const text = elf.loads().find((p) => p.flags & 1)!;
    assert.equal(elf.fileOffset(text.vaddr + 8, true), text.offset + 8);
    assert.equal(elf.fileOffset(text.vaddr - 1, true), undefined);
    const data = elf.loads().find((p) => p.memsz > p.filesz)!;
    assert.equal(
      elf.fileOffset(data.vaddr + data.filesz),
      undefined,
      "bss has no file bytes",
    );
    assert.equal(
      elf.fileOffset(data.vaddr, true),
      undefined,
      "data is not executable",
    );
  } finally {
    elf.close();
  }
});

Deno.test("ElfFile rejects 32-bit, big-endian, foreign-machine and truncated files", async () => {
  await assertTargetError(
    ElfFile.open(await fakeElf("elf32", 1, 1, 3)),
    "unsupported",
    /32-bit/,
  );
  await assertTargetError(
    ElfFile.open(await fakeElf("elfbe", 2, 2, 21)),
    "unsupported",
    /big-endian/,
  );
  await assertTargetError(
    ElfFile.open(await fakeElf("riscv", 2, 1, 243)),
    "unsupported",
    /machine is 243/,
    /x86_64 \(62\) and aarch64 \(183\)/,
  );
  const short = `${await testDir()}/short`;
  await Deno.writeFile(
    short,
    new Uint8Array([
      0x7f,
      0x45,
      0x4c,
      0x46,
      2,
      1,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]),
  );
  await assertTargetError(ElfFile.open(short), "not-elf", /truncated/);
  const empty = `${await testDir()}/empty`;
  await Deno.writeFile(empty, new Uint8Array());
  await assertTargetError(
    ElfFile.open(empty),
    "not-elf",
    /not an ELF executable/,
  );
});

/**
 * Copies the `sdk` binary to `name` with the size of its section header
 * `index` (the section-name table when undefined) set to `size`, and the file
 * extended (sparse) to `fileSize` bytes when given.
 */
async function claimSection(
  name: string,
  size: number,
  fileSize?: number,
  index?: number,
): Promise<string> {
  const data = await Deno.readFile(await binary("sdk"));
  const v = new DataView(data.buffer);
  const shoff = Number(v.getBigUint64(40, true));
  const i = index ?? v.getUint16(62, true);
  v.setBigUint64(shoff + i * v.getUint16(58, true) + 32, BigInt(size), true);
  const path = `${await testDir()}/${name}`;
  await Deno.writeFile(path, data);
  if (fileSize !== undefined) await Deno.truncate(path, fileSize);
  return path;
}

Deno.test("ElfFile refuses a table claiming more than maxTableBytes, even in a file that large", async () => {
  // 1 GiB of section names in a 2 GiB sparse file: the old reader
  // allocated and read it whole.
  const path = await claimSection("huge-names", 2 ** 30, 2 ** 31);
  try {
    await assertTargetError(
      ElfFile.open(path),
      "too-large",
      /section name table claims 1073741824 bytes/,
      new RegExp(`over the ${maxTableBytes}-byte limit`),
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("ElfFile refuses ranges past the end of the file", async () => {
  const path = await claimSection("names-past-end", 2 ** 40);
  await assertTargetError(
    ElfFile.open(path),
    "unreadable",
    /section name table claims 1099511627776 bytes at offset \d+, past the end of the \d+-byte file/,
  );
  const elf = await ElfFile.open(await binary("sdk"));
  try {
    assert.throws(
      () => elf.range("test", elf.stat.size - 10, 11),
      /past the end/,
    );
    assert.throws(
      () => elf.range("test", elf.stat.size + 1, 0),
      /past the end/,
    );
    assert.equal(elf.range("test", elf.stat.size - 10, 10).size, 10);
    await assert.rejects(() => elf.read(elf.stat.size + 8, 8), /past the end/);
  } finally {
    elf.close();
  }
});

Deno.test("ElfFile refuses a symbol table claiming more than the file holds", async () => {
  const sdk = await binary("sdk");
  const index = (await run(["readelf", "-SW", sdk])).split("\n")
    .map((l) => l.match(/^\s*\[\s*(\d+)\]\s+\.symtab\s/))
    .find((m) => m)![1];
  const path = await claimSection("huge-symtab", 2 ** 34, undefined, +index);
  const elf = await ElfFile.open(path);
  try {
    await assertTargetError(
      elf.functionSymbols(["main.main"]),
      "unreadable",
      /section \.symtab claims 17179869184 bytes/,
    );
  } finally {
    elf.close();
  }
});

Deno.test("ElfFile refuses a FIFO, a device and a directory at once, without waiting for a writer", async () => {
  const fifo = `${await testDir()}/fifo`;
  await run(["mkfifo", fifo]);
  await assertTargetError(ElfFile.open(fifo), "not-elf", /FIFO/);
  await assertTargetError(ElfFile.open("/dev/null"), "not-elf", /a device/);
  await assertTargetError(
    ElfFile.open(await testDir()),
    "not-elf",
    /a directory/,
  );
});

Deno.test("findStrings finds names by suffix across pieces, at their offsets, and refuses too many", async () => {
  // A 10 KiB name straddles two 64 KiB pieces; one over maxNameBytes is
  // not seen, nor is the tail of it that ends like a wanted name.
  const pad = "z".repeat((64 << 10) - 20);
  const long = "x".repeat(10 << 10) + "pkg.ended";
  const overlong = "y".repeat(maxNameBytes + 5) + "pkg.ended";
  const text =
    `pkg.ended\0${pad}\0${long}\0${overlong}\0a/pkg.ended\0pkg.ended.abi0\0\0b`;
  const data = new Uint8Array([...text].map((c) => c.charCodeAt(0)));
  const found = await findStrings(bytesRange(data), ["pkg.ended"], "t");
  const longAt = text.indexOf("xxx");
  assert.deepEqual([...found.keys()], [0, longAt, text.indexOf("a/pkg")]);
  assert.equal(found.get(longAt), long);
  assert.equal(found.get(text.indexOf("a/pkg")), "a/pkg.ended");
  const many = new TextEncoder().encode("f.ended\0".repeat(maxMatches + 1));
  await assertTargetError(
    findStrings(bytesRange(many), ["f.ended"], "crafted"),
    "too-large",
    new RegExp(`more than ${maxMatches} names`),
  );
});

Deno.test("findStrings reads a gigabyte of zeros in a few seconds at most", async () => {
  // A crafted table of zeros: one empty string per byte, 2^30 of them.
  const path = await claimSection("zeros", 0, 2 ** 31);
  const elf = await ElfFile.open(path);
  try {
    const started = performance.now();
    const found = await findStrings(elf.range("zeros", 2 ** 30, 2 ** 30), [
      "main.main",
    ], path);
    assert.equal(found.size, 0);
    // 2-10 s on 2 busy cores; 42 s when each string was looked at in turn.
    const ms = performance.now() - started;
    assert.ok(ms < 30_000, `took ${Math.round(ms)} ms`);
  } finally {
    elf.close();
    await Deno.remove(path);
  }
});

Deno.test("scan finds aligned headers across chunk boundaries", async () => {
  const data = new Uint8Array(3 * chunkBytes);
  for (const at of [8, chunkBytes - 8, 2 * chunkBytes + 16]) data[at] = 0xaa;
  const found = [];
  for await (
    const at of scan(bytesRange(data), 8, 16, (d, i) => d[i] === 0xaa)
  ) {
    found.push(at);
  }
  assert.deepEqual(found, [8, chunkBytes - 8, 2 * chunkBytes + 16]);
});
