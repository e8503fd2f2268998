import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { BufferPool } from "../otlp/mod.ts";
import { CopyArena } from "./_arena.ts";

Deno.test("CopyArena copies are independent of their source and of each other", () => {
  const arena = new CopyArena(128);
  const source = new Uint8Array(10).map((_, i) => i);
  const first = arena.copy(source).bytes;
  source.fill(0xff);
  const second = arena.copy(source).bytes;
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
    (_, i) => arena.copy(Uint8Array.of(i, i, i, i, i, i, i, i)).bytes,
  );
  assertEquals(copies.map((c) => c[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assertEquals(
    copies[8].buffer === copies[7].buffer,
    false,
    "the 9th 8-byte copy opens a chunk",
  );
  const empty = arena.copy(new Uint8Array(0)).bytes;
  assertEquals(empty.length, 0);
  const large = arena.copy(new Uint8Array(9).fill(7)).bytes;
  assertEquals(large.byteOffset, 0);
  assertEquals([...large], Array(9).fill(7));
  ok(
    large.buffer !== copies[8].buffer,
    "over an eighth of a chunk: its own buffer",
  );
});

Deno.test("CopyArena reuses a large copy's buffer only after it was released", () => {
  const arena = new CopyArena(64 << 10, new BufferPool(1 << 30));
  const first = arena.copy(new Uint8Array(100_000).fill(1));
  const second = arena.copy(new Uint8Array(100_000).fill(2));
  ok(second.bytes.buffer !== first.bytes.buffer);
  assertEquals(first.bytes.every((b) => b === 1), true, "first unchanged");
  first.release();
  first.release(); // counts once
  const third = arena.copy(new Uint8Array(100_000).fill(3));
  ok(third.bytes.buffer === first.bytes.buffer, "reused once released");
  const fourth = arena.copy(new Uint8Array(100_000).fill(4));
  ok(
    fourth.bytes.buffer !== first.bytes.buffer,
    "a second release of the same copy gave nothing back",
  );
  assertEquals(second.bytes.every((b) => b === 2), true, "second unchanged");
});

Deno.test("CopyArena reuses a chunk only once it is full and every copy in it was released", () => {
  const pool = new BufferPool(1 << 30);
  const arena = new CopyArena(64 << 10, pool);
  const eighth = 8 << 10;
  // 8 copies fill the first chunk.
  const first = Array.from(
    { length: 8 },
    (_, i) => arena.copy(new Uint8Array(eighth).fill(i)),
  );
  for (const c of first.slice(1)) c.release();
  // The 9th opens a second chunk; the first is still held by first[0].
  const ninth = arena.copy(new Uint8Array(eighth).fill(9));
  ok(ninth.bytes.buffer !== first[0].bytes.buffer);
  assertEquals(pool.idleBytes, 0, "the first chunk is not back yet");
  assertEquals(first[0].bytes.every((b) => b === 0), true);
  first[0].release();
  assertEquals(pool.idleBytes, 64 << 10, "now it is");
  // The second chunk is the one being filled: releasing its only copy
  // keeps it.
  ninth.release();
  assertEquals(pool.idleBytes, 64 << 10);
});
