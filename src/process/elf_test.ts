import assert from "node:assert/strict";
import { assertTargetError, binary, run, testDir } from "./_test_binaries.ts";
import { ElfFile, PT_LOAD } from "./elf.ts";

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
    const syms = await elf.functionSymbols((n) =>
      n === "main.main" || n === "runtime.main"
    );
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
    assert.equal(await elf.functionSymbols(() => true), undefined);
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
