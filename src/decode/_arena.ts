/**
 * {@linkcode CopyArena}: copies of ring records that stay valid until they
 * are released. Small copies are packed into shared chunks, because an
 * ArrayBuffer of its own costs about 0.7 µs to allocate (measured here)
 * whatever its size, which at one span per ring record was the largest part
 * of decoding it. Chunks and large copies come from a {@linkcode BufferPool}
 * and go back to it once every copy in them was released, so at a high span
 * rate the same memory carries record after record instead of tens of MB a
 * second of buffers waiting for a GC.
 *
 * @module
 */

import { BufferPool } from "../otlp/mod.ts";

/** A copy and how to hand its memory back. */
export interface Copy {
  /** The copied bytes. */
  bytes: Uint8Array<ArrayBuffer>;
  /** Says nothing reads `bytes` any more; only the first call counts. */
  release: () => void;
}

/** A shared chunk and the copies in it not released yet (+1 while it is filled). */
interface Chunk {
  bytes: Uint8Array<ArrayBuffer>;
  holders: number;
}

/** Copies byte ranges into shared chunks; large ranges get their own buffer. */
export class CopyArena {
  readonly #chunkBytes: number;
  readonly #pool: BufferPool;
  #chunk: Chunk | undefined;
  #used = 0;

  /**
   * An arena whose chunks hold `chunkBytes` bytes (default 1 MiB), taking
   * its buffers from `pool` (default one that keeps up to 32 MiB).
   */
  constructor(chunkBytes = 1 << 20, pool = new BufferPool(32 << 20)) {
    this.#chunkBytes = chunkBytes;
    this.#pool = pool;
  }

  /**
   * A copy of `bytes` that stays valid (and unchanged) until it is released.
   * Copies up to an eighth of a chunk share chunks; a chunk goes back to the
   * pool when all its copies were released and it is full.
   */
  copy(bytes: Uint8Array): Copy {
    const n = bytes.length;
    if (n > this.#chunkBytes >>> 3) {
      const own = this.#pool.acquire(n);
      own.set(bytes);
      return { bytes: own, release: once(() => this.#pool.release(own)) };
    }
    let chunk = this.#chunk;
    if (!chunk || this.#used + n > chunk.bytes.length) {
      if (chunk) this.#drop(chunk);
      chunk = this.#chunk = {
        bytes: this.#pool.acquire(this.#chunkBytes),
        holders: 1,
      };
      this.#used = 0;
    }
    const at = this.#used;
    chunk.bytes.set(bytes, at);
    // 8-byte alignment keeps later reads of the copy word-aligned.
    this.#used = (at + n + 7) & ~7;
    chunk.holders++;
    const held = chunk;
    return {
      bytes: chunk.bytes.subarray(at, at + n),
      release: once(() => this.#drop(held)),
    };
  }

  #drop(chunk: Chunk): void {
    if (--chunk.holders === 0) this.#pool.release(chunk.bytes);
  }
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}
