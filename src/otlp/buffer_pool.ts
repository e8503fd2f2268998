/**
 * {@linkcode BufferPool}: byte buffers handed back for reuse once nothing
 * reads them any more. At 200k spans/s the record copies and request bodies
 * are tens of MB a second of ArrayBuffers; V8 frees an unreachable one only
 * at its next GC, which the external memory triggers only after ~64 MiB more
 * was allocated, so garbage buffers, not live ones, made most of the agent's
 * peak. A buffer in the pool is reused instead of being left to the GC.
 *
 * @module
 */

/** Smallest buffer the pool keeps: smaller requests are rounded up to it. */
const minBytes = 64 << 10;

/**
 * The capacity a new buffer for `n` bytes gets: `n` rounded up to a quarter
 * of the power of two below it (at most 25% unused), at least 64 KiB.
 */
export function poolCapacity(n: number): number {
  if (n <= minBytes) return minBytes;
  const step = 2 ** (Math.floor(Math.log2(n)) - 2);
  return Math.ceil(n / step) * step;
}

/**
 * Buffers by capacity. {@linkcode BufferPool.acquire} hands out a buffer no
 * one else holds; {@linkcode BufferPool.release} takes it back, after which
 * the caller must not read or write it. A buffer never released is simply
 * left to the GC. At most `maxIdleBytes` wait in the pool; what a release
 * would add beyond that is left to the GC too, and so is everything in the
 * pool once `trimAfterMs` passed without an acquire (a burst's buffers do
 * not stay with an idle agent).
 */
export class BufferPool {
  readonly #maxIdleBytes: number;
  readonly #trimAfterMs: number;
  readonly #free = new Map<number, ArrayBuffer[]>();
  #idleBytes = 0;
  #acquired = false;
  #trimTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * A pool that keeps at most `maxIdleBytes` of released buffers, and none
   * once `trimAfterMs` (default 10 s) passed without an acquire.
   */
  constructor(maxIdleBytes: number, trimAfterMs = 10_000) {
    this.#maxIdleBytes = maxIdleBytes;
    this.#trimAfterMs = trimAfterMs;
  }

  /** Bytes of released buffers waiting to be reused. */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /**
   * `n` bytes (contents undefined) at offset 0 of a buffer that no other
   * holder of this pool has: the smallest released one of
   * {@linkcode poolCapacity}(n) to twice that, else a new one of
   * poolCapacity(n) bytes.
   */
  acquire(n: number): Uint8Array<ArrayBuffer> {
    this.#acquired = true;
    const capacity = poolCapacity(n);
    let best = 0;
    for (const [size, free] of this.#free) {
      if (
        free.length > 0 && size >= capacity && size <= 2 * capacity &&
        (best === 0 || size < best)
      ) best = size;
    }
    if (best === 0) return new Uint8Array(new ArrayBuffer(capacity), 0, n);
    this.#idleBytes -= best;
    return new Uint8Array(this.#free.get(best)!.pop()!, 0, n);
  }

  /**
   * Takes back the buffer of `bytes` (from {@linkcode acquire}) for reuse.
   * Call it once, when nothing reads or writes the buffer any more.
   */
  release(bytes: Uint8Array<ArrayBuffer>): void {
    const buffer = bytes.buffer;
    const capacity = buffer.byteLength;
    if (this.#idleBytes + capacity > this.#maxIdleBytes) return;
    let free = this.#free.get(capacity);
    if (!free) this.#free.set(capacity, free = []);
    free.push(buffer);
    this.#idleBytes += capacity;
    this.#scheduleTrim();
  }

  /** Checks every `trimAfterMs` while buffers wait; never keeps the process alive. */
  #scheduleTrim(): void {
    if (this.#trimTimer !== undefined) return;
    this.#acquired = false;
    const timer = setTimeout(() => {
      this.#trimTimer = undefined;
      if (!this.#acquired) {
        this.#free.clear();
        this.#idleBytes = 0;
      } else if (this.#idleBytes > 0) this.#scheduleTrim();
    }, this.#trimAfterMs);
    Deno.unrefTimer(timer);
    this.#trimTimer = timer;
  }
}
