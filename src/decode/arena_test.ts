import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { CopyArena } from "./_arena.ts";

Deno.test("CopyArena copies are independent of their source and of each other", () => {
  const arena = new CopyArena(128);
  const source = new Uint8Array(10).map((_, i) => i);
  const first = arena.copy(source);
  source.fill(0xff);
  const second = arena.copy(source);
  assertEquals([...first], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assertEquals([...second], Array(10).fill(0xff));
  assertEquals(
    first.buffer === second.buffer,
    true,
    "small copies share a chunk",
  );
  assertEquals(second.byteOffset, 16, "copies start 8-byte aligned");
});

Deno.test("CopyArena starts a new chunk when one is full and gives large copies their own buffer", () => {
  const arena = new CopyArena(64);
  const copies = Array.from(
    { length: 9 },
    (_, i) => arena.copy(Uint8Array.of(i, i, i, i, i, i, i, i)),
  );
  assertEquals(copies.map((c) => c[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assertEquals(
    copies[8].buffer === copies[7].buffer,
    false,
    "the 9th 8-byte copy opens a chunk",
  );
  const empty = arena.copy(new Uint8Array(0));
  assertEquals(empty.length, 0);
  const large = arena.copy(new Uint8Array(9).fill(7));
  assertEquals(large.byteOffset, 0);
  assertEquals(
    large.buffer.byteLength,
    9,
    "over an eighth of a chunk: its own buffer",
  );
});
