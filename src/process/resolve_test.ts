import assert from "node:assert/strict";
import { binary, run, testDir } from "../../testing/go_binaries.ts";
import { symbolFileOffset } from "../../testing/symbols.ts";
import { assertTargetError } from "../../testing/target_error.ts";
import {
  probeFunction,
  probeNop,
  resolveProcessTarget,
  resolveTarget,
} from "./resolve.ts";

const body = `${probeFunction}.abi0`;

/** Reads `n` bytes of `path` at `offset`. */
async function bytesAt(
  path: string,
  offset: number,
  n: number,
): Promise<number[]> {
  const data = await Deno.readFile(path);
  return [...data.subarray(offset, offset + n)];
}

Deno.test("resolveTarget finds ended in an amd64 binary at the offset go tool nm and readelf give", async () => {
  const path = await binary("sdk");
  const t = await resolveTarget(path);
  assert.equal(t.arch, "x86_64");
  assert.equal(t.stripped, false);
  assert.equal(t.endedSymbol, body);
  assert.equal(t.endedOffset, await symbolFileOffset(path, body));
  assert.deepEqual(await bytesAt(path, t.endedOffset, 5), [...probeNop.x86_64]);
  const st = await Deno.stat(path);
  assert.equal(t.dev, st.dev);
  assert.equal(t.ino, st.ino);
  assert.equal(t.realPath, await Deno.realPath(path));
  assert.equal(t.build?.settings.GOARCH, "amd64");
});

Deno.test("resolveTarget finds ended in an arm64 binary and checks its NOP", async () => {
  const path = await binary("sdk-arm64");
  const t = await resolveTarget(path);
  assert.equal(t.arch, "aarch64");
  assert.equal(t.endedOffset, await symbolFileOffset(path, body));
  // arm64 Go binaries load at 0x10000 with file offset 0: offset != address.
  assert.notEqual(t.endedOffset, t.endedAddress);
  assert.deepEqual(await bytesAt(path, t.endedOffset, 4), [
    ...probeNop.aarch64,
  ]);
  assert.equal(t.build?.settings.GOARCH, "arm64");
});

Deno.test("resolveTarget reads the pclntab of stripped binaries and agrees with the symbol table", async () => {
  for (
    const [full, stripped] of [["sdk", "sdk-stripped"], [
      "sdk-arm64",
      "sdk-arm64-stripped",
    ]] as const
  ) {
    const withSyms = await resolveTarget(await binary(full));
    const path = await binary(stripped);
    const t = await resolveTarget(path);
    assert.equal(t.stripped, true, stripped);
    assert.equal(t.endedSymbol, probeFunction);
    // -s -w drops only symbols and DWARF, which come after the text.
    assert.equal(t.endedAddress, withSyms.endedAddress, stripped);
    assert.equal(t.endedOffset, withSyms.endedOffset, stripped);
    assert.equal(t.build?.settings["-ldflags"], "-s -w");
  }
});

Deno.test("resolveTarget picks the assembly body, not the Go ABI wrapper, with and without symbols", async () => {
  const path = await binary("sdk-wrapper");
  const nm = await run(["go", "tool", "nm", path]);
  assert.match(
    nm,
    new RegExp(` T ${probeFunction.replaceAll(".", "\\.")}\n`),
    "the wrapper exists",
  );
  const t = await resolveTarget(path);
  assert.equal(t.endedSymbol, body);
  assert.equal(t.endedOffset, await symbolFileOffset(path, body));
  const s = await resolveTarget(await binary("sdk-wrapper-stripped"));
  assert.equal(s.endedAddress, t.endedAddress);
  assert.equal(s.endedOffset, t.endedOffset);
});

Deno.test("resolveTarget handles externally linked binaries, whose .text starts before runtime.text", async () => {
  const path = await binary("sdk-external");
  const t = await resolveTarget(path);
  assert.equal(t.endedOffset, await symbolFileOffset(path, body));
  const s = await resolveTarget(await binary("sdk-external-stripped"));
  assert.equal(s.stripped, true);
  assert.equal(s.endedAddress, t.endedAddress);
  // Also a copy stripped by binutils: same layout, no .symtab.
  const copy = `${await testDir()}/sdk-external-binutils-stripped`;
  await run(["strip", "-o", copy, path]);
  const c = await resolveTarget(copy);
  assert.equal(c.stripped, true);
  assert.equal(c.endedOffset, t.endedOffset);
});

Deno.test("resolveTarget accepts a fork of the SDK under another module path", async () => {
  const path = await binary("fork");
  const t = await resolveTarget(path);
  assert.equal(
    t.endedSymbol,
    "example.com/fork/sdk/internal/handoff.ended.abi0",
  );
  assert.equal(t.endedOffset, await symbolFileOffset(path, t.endedSymbol));
});

Deno.test("resolveTarget rejects a probe point without the NOP", async () => {
  await assertTargetError(
    resolveTarget(await binary("fork-no-nop")),
    "bad-probe-point",
    /first instruction is c3/,
    /not the NOP 0f 1f 44 00 00/,
  );
});

Deno.test("resolveTarget explains a Go binary without the SDK", async () => {
  await assertTargetError(
    resolveTarget(await binary("go-plain")),
    "no-probe-point",
    /does not contain spanbridge's probe point/,
    /import github\.com\/spanbridge\/spanbridge\/go\/sdk/,
  );
});

Deno.test("resolveTarget explains a C binary, a text file and a missing file", async () => {
  await assertTargetError(
    resolveTarget(await binary("c-plain")),
    "not-go",
    /is not a Go program/,
  );
  const text = `${await testDir()}/notes.txt`;
  await Deno.writeTextFile(text, "hello\n");
  await assertTargetError(
    resolveTarget(text),
    "not-elf",
    /is not an ELF executable/,
  );
  await assertTargetError(
    resolveTarget(`${await testDir()}/missing`),
    "not-found",
    /no such file/,
  );
  await assertTargetError(
    resolveTarget(await testDir()),
    "not-elf",
    /not a regular file|directory/,
  );
});

Deno.test("resolveProcessTarget resolves a running process through /proc/<pid>/exe", async () => {
  const path = await binary("sdk");
  const child = new Deno.Command(path, {
    args: ["30s"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const { process, target } = await resolveProcessTarget(child.pid);
    assert.equal(process.exePath, await Deno.realPath(path));
    assert.equal(target.realPath, process.exePath);
    assert.equal(target.path, `/proc/${child.pid}/exe`);
    assert.equal(target.endedOffset, (await resolveTarget(path)).endedOffset);
  } finally {
    child.kill();
    await child.status;
  }
});

Deno.test("resolveTarget finds the pclntab and build info by their magic when there are no section headers", async () => {
  for (
    const name of [
      "sdk-stripped",
      "sdk-arm64-stripped",
      "sdk-external",
    ] as const
  ) {
    const path = await binary(name);
    const data = await Deno.readFile(path);
    const view = new DataView(data.buffer);
    view.setBigUint64(40, 0n, true); // e_shoff
    view.setUint16(60, 0, true); // e_shnum
    view.setUint16(62, 0, true); // e_shstrndx
    const copy = `${await testDir()}/${name}-no-sections`;
    await Deno.writeFile(copy, data);
    const want = await resolveTarget(path);
    const t = await resolveTarget(copy);
    assert.equal(t.stripped, true, name);
    assert.equal(t.endedOffset, want.endedOffset, name);
    assert.deepEqual(t.build, want.build, name);
  }
});

Deno.test("resolveTarget with an expected identity refuses another file before reading it", async () => {
  // A process that executed a crafted binary after the one it was seen
  // running: the crafted file's verdict must not become the other's.
  const path = await binary("sdk");
  const st = await Deno.stat(path);
  assert.equal(
    (await resolveTarget(path, { dev: st.dev, ino: st.ino! })).ino,
    st.ino,
  );
  await assertTargetError(
    resolveTarget(path, { dev: st.dev, ino: st.ino! + 1 }),
    "not-found",
    /no longer the file expected/,
  );
});

Deno.test("resolveTarget stops reading a file that lists the same gigabyte as thousands of segments", async () => {
  // No section headers, and 1,000 writable segments over one sparse 1 GiB
  // region, each searched for the module data: each is within the bounds,
  // all of them would be 1,000 GiB.
  const data = await Deno.readFile(await binary("sdk-stripped"));
  const v = new DataView(data.buffer);
  v.setBigUint64(40, 0n, true); // e_shoff
  v.setUint16(60, 0, true); // e_shnum
  v.setUint16(62, 0, true); // e_shstrndx
  const count = 1000;
  const table = new Uint8Array(count * 56);
  const t = new DataView(table.buffer);
  for (let i = 0; i < count; i++) {
    t.setUint32(i * 56, 1, true); // PT_LOAD
    t.setUint32(i * 56 + 4, 6, true); // PF_R | PF_W
    t.setBigUint64(i * 56 + 32, BigInt(2 ** 30), true); // p_filesz
  }
  v.setBigUint64(32, BigInt(data.length), true); // e_phoff: the new table
  v.setUint16(56, count, true); // e_phnum
  const path = `${await testDir()}/many-segments`;
  await Deno.writeFile(path, data);
  await Deno.writeFile(path, table, { append: true });
  await Deno.truncate(path, 2 ** 30 + 2 ** 20);
  try {
    await assertTargetError(
      resolveTarget(path),
      "too-large",
      /would read more than 1073741824 bytes/,
    );
  } finally {
    await Deno.remove(path);
  }
});
