import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { BufferPool, poolCapacity } from "./buffer_pool.ts";

Deno.test("poolCapacity rounds up to a quarter of the power of two below, at least 64 KiB", () => {
  assertEquals(poolCapacity(1), 64 << 10);
  assertEquals(poolCapacity(64 << 10), 64 << 10);
  assertEquals(poolCapacity((64 << 10) + 1), 80 << 10);
  assertEquals(poolCapacity(4 << 20), 4 << 20);
  assertEquals(poolCapacity((4 << 20) + 100), 5 << 20);
  assertEquals(poolCapacity((7 << 20) + 1), 8 << 20);
});

Deno.test("BufferPool never hands out a buffer that was not released", () => {
  const pool = new BufferPool(1 << 30);
  const a = pool.acquire(100_000);
  const b = pool.acquire(100_000);
  assertEquals(a.length, 100_000);
  assertEquals(a.byteOffset, 0);
  ok(a.buffer !== b.buffer, "two holders, two buffers");
  pool.release(a);
  const c = pool.acquire(90_000);
  ok(c.buffer === a.buffer, "a released buffer is reused");
  assertEquals(c.length, 90_000);
  const d = pool.acquire(90_000);
  ok(d.buffer !== a.buffer && d.buffer !== b.buffer, "and only once");
});

Deno.test("BufferPool reuses a buffer up to twice the size asked for, the smallest first", () => {
  const pool = new BufferPool(1 << 30);
  const big = pool.acquire(1 << 20);
  const bigger = pool.acquire(3 << 20);
  pool.release(bigger);
  pool.release(big);
  ok(pool.acquire(600_000).buffer === big.buffer, "1 MiB for 600 kB");
  ok(
    pool.acquire(1 << 20).buffer !== bigger.buffer,
    "3 MiB is too large for 1 MiB: a new buffer",
  );
  ok(pool.acquire(2 << 20).buffer === bigger.buffer);
});

Deno.test("BufferPool keeps at most maxIdleBytes of released buffers", () => {
  const pool = new BufferPool(100 << 10);
  const a = pool.acquire(64 << 10);
  const b = pool.acquire(64 << 10);
  pool.release(a);
  pool.release(b);
  assertEquals(pool.idleBytes, 64 << 10, "the second is left to the GC");
  ok(pool.acquire(1).buffer === a.buffer);
  assertEquals(pool.idleBytes, 0);
  ok(pool.acquire(1).buffer !== b.buffer);
});

Deno.test("BufferPool lets its buffers go once no acquire came for trimAfterMs", async () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const pool = new BufferPool(1 << 30, 1000);
  const a = pool.acquire(1);
  const b = pool.acquire(1);
  pool.release(a);
  pool.release(b);
  await sleep(100);
  ok(pool.acquire(1).buffer === b.buffer, "kept while in use");
  await sleep(100);
  assertEquals(pool.idleBytes, 64 << 10, "an acquire in the last period");
  await sleep(2500);
  assertEquals(pool.idleBytes, 0, "trimmed after a quiet period");
  ok(pool.acquire(1).buffer !== a.buffer);
});
