/**
 * {@linkcode CopyArena}: copies of small byte ranges packed into shared
 * chunks, because an ArrayBuffer of its own costs about 0.7 µs to allocate
 * (measured here) whatever its size, which at one span per ring record was
 * the largest part of decoding it.
 *
 * @module
 */

/** Copies byte ranges into shared chunks; large ranges get their own buffer. */
export class CopyArena {
  readonly #chunkBytes: number;
  #chunk: Uint8Array<ArrayBuffer>;
  #used = 0;

  /** An arena whose chunks hold `chunkBytes` bytes (default 1 MiB). */
  constructor(chunkBytes = 1 << 20) {
    this.#chunkBytes = chunkBytes;
    this.#chunk = new Uint8Array(0);
  }

  /**
   * A copy of `bytes` that stays valid (and unchanged) for as long as it is
   * referenced. Copies up to an eighth of a chunk share chunks, so a small
   * copy may keep its chunk's memory alive while any copy in it is.
   */
  copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
    const n = bytes.length;
    if (n > this.#chunkBytes >>> 3) return bytes.slice();
    if (this.#used + n > this.#chunk.length) {
      this.#chunk = new Uint8Array(this.#chunkBytes);
      this.#used = 0;
    }
    const at = this.#used;
    this.#chunk.set(bytes, at);
    // 8-byte alignment keeps later reads of the copy word-aligned.
    this.#used = (at + n + 7) & ~7;
    return this.#chunk.subarray(at, at + n);
  }
}
