/**
 * Reads a pinned BPF ring buffer from Deno without copying: the ring's pages
 * are mmapped and records are handed out as views of them, and the reader
 * sleeps in the kernel (epoll) between batches.
 *
 * The data area is mapped once (mapping it twice back to back, as libbpf
 * does, would count it twice in the process's RSS), so a record that runs
 * past the end of the area continues at its start. Such a record is copied
 * into a scratch buffer, reused for the next one, and handed out from there:
 * at most one record per lap of the ring. Its 8-byte header never wraps
 * (records start 8-aligned).
 *
 * Why direct reads of the mmapped ring rather than libbpf's ring_buffer or a
 * C shim: measured on a 2-vCPU VM, libbpf's one-callback-per-record ran at
 * 2.4 M records/s (100 B), a C shim copying into one JS buffer per call at
 * 8.3-8.7 M records/s but ~2 GB/s at 64 KiB and it would have to be embedded
 * in the standalone binary as a .so, while these direct reads ran at
 * 5.9-6.9 M records/s and 2.6-2.8 GB/s and need only libbpf.so.1 and libc.
 * See bench/reader.ts for this implementation's numbers.
 *
 * The reader belongs to a probe instance (src/probe opens it with the
 * instance's other maps); others use it through `Probe.reader`.
 *
 * @example
 * ```ts
 * const reader = openRing("/sys/fs/bpf/spanbridge/<instance>/maps/rb");
 * while (!stopping) {
 *   await reader.wait(50); // false after 50 ms without data: look again
 *   reader.drain((rec) => console.log(rec.length));
 * }
 * reader.close();
 * ```
 *
 * @module
 */

import {
  closeFd,
  mapInfo,
  mapRing,
  objGet,
  type RingMemory,
  RingPoller,
} from "../ffi/mod.ts";

/** BPF_MAP_TYPE_RINGBUF. */
const RINGBUF_TYPE = 27;
/** The kernel's record header: u32 len (with these flag bits) and u32 page offset. */
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HEADER = 8;

/** A consumer of one BPF ring buffer map. */
export interface RingReader {
  /** The ring's data size in bytes. */
  readonly size: number;
  /**
   * Resolves true as soon as records wait (at once if some already do),
   * false after `timeoutMs` without data or when the reader is closed. The
   * wait happens in the kernel, off the JS thread; one wait at a time.
   * Producers wake a waiting reader only once enough data waits (the
   * probe's wakeBytes), so pass a short timeout (10-50 ms) to bound the
   * latency of a trickle of records.
   */
  wait(timeoutMs: number): Promise<boolean>;
  /**
   * Hands every record committed so far to `onRecord` and returns how many.
   * A record is the bytes the program wrote (for spanbridge: an
   * sb_record_header and its payload). `record` is a view of the ring's
   * memory (or, for a record that wraps past the ring's end, of a scratch
   * copy that the next such record overwrites), valid only until
   * `onRecord` returns: copy what you keep (`record.slice()`). Discarded
   * records are skipped. Space is given back
   * to the kernel as the drain proceeds, also if `onRecord` throws (the
   * record that threw counts as consumed). With `maxRecords`, the drain
   * stops after that many records and leaves the rest in the ring (for
   * backpressure: the producers' records wait there until the consumer has
   * room).
   */
  drain(onRecord: (record: Uint8Array) => void, maxRecords?: number): number;
  /** Bytes committed or reserved by producers and not yet consumed. */
  waitingBytes(): number;
  /**
   * Cancels a pending wait, unmaps the ring and closes its fd; views handed
   * out earlier become empty. May be called from a drain callback (the
   * drain stops after it). Idempotent.
   */
  close(): void;
}

/**
 * Opens the ring buffer map pinned at `path` for reading. Reading starts at
 * the ring's consumer position, so records a previous reader of the same
 * pinned ring left unconsumed are delivered.
 */
export function openRing(path: string): RingReader {
  return openRingFd(objGet(path), path);
}

/**
 * Reads the ring buffer map `fd` (named `what` in errors), which the reader
 * owns from now on: it is closed with the reader, or at once on failure.
 */
export function openRingFd(fd: number, what: string): RingReader {
  try {
    const info = mapInfo(fd);
    if (info.type !== RINGBUF_TYPE) {
      throw new Error(
        `Cannot read ${what} as a ring buffer: it is a BPF map of type ${info.type}.`,
      );
    }
    return new MmapRingReader(
      fd,
      mapRing(fd, info.maxEntries, `the ring buffer ${what}`),
    );
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

class MmapRingReader implements RingReader {
  readonly size: number;
  #fd: number;
  #mem: RingMemory;
  #poller: RingPoller;
  #consumer: BigUint64Array;
  #producer: BigUint64Array;
  #words: Uint32Array;
  #bytes: Uint8Array;
  /** Holds the record that wraps past the end of the ring; grown as needed. */
  #scratch = new Uint8Array(0);
  #mask: number;
  /** consumer_pos as a number (exact below 2^53 bytes read). */
  #pos: number;
  #closed = false;
  #draining = false;

  constructor(fd: number, mem: RingMemory) {
    this.#fd = fd;
    this.#mem = mem;
    this.size = mem.size;
    this.#mask = mem.size - 1;
    this.#consumer = new BigUint64Array(mem.consumer, 0, 1);
    this.#producer = new BigUint64Array(mem.producer, 0, 1);
    this.#words = new Uint32Array(mem.data);
    this.#bytes = new Uint8Array(mem.data);
    this.#pos = Number(Atomics.load(this.#consumer, 0));
    try {
      this.#poller = new RingPoller(fd);
    } catch (e) {
      mem.unmap();
      throw e;
    }
  }

  waitingBytes(): number {
    if (this.#closed) return 0;
    return Number(Atomics.load(this.#producer, 0)) - this.#pos;
  }

  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#ready()) return true;
    return await this.#poller.wait(timeoutMs) && !this.#closed;
  }

  /** True when the next record is committed (not merely reserved). */
  #ready(): boolean {
    if (Number(Atomics.load(this.#producer, 0)) === this.#pos) return false;
    return (Atomics.load(this.#words, (this.#pos & this.#mask) >>> 2) &
      BUSY_BIT) === 0;
  }

  drain(
    onRecord: (record: Uint8Array) => void,
    maxRecords = Infinity,
  ): number {
    if (this.#closed || maxRecords <= 0) return 0;
    const words = this.#words;
    const bytes = this.#bytes;
    const mask = this.#mask;
    const size = this.size;
    // Give space back every quarter ring, so producers are not starved while
    // a long backlog is handed out.
    const publishEvery = this.size >>> 2;
    let pos = this.#pos;
    let published = pos;
    let count = 0;
    this.#draining = true;
    try {
      let producer = Number(Atomics.load(this.#producer, 0));
      while (pos < producer) {
        const off = pos & mask;
        // Atomics.load orders the reads of the record after its header, as
        // the kernel's smp_store_release of the header requires.
        const word = Atomics.load(words, off >>> 2);
        if (word & BUSY_BIT) break;
        const len = word & ~(BUSY_BIT | DISCARD_BIT);
        pos += (len + HEADER + 7) & ~7;
        if ((word & DISCARD_BIT) === 0) {
          count++;
          // The record starts right after its header, at the ring's start
          // when the header ends the ring.
          const at = (off + HEADER) & mask;
          onRecord(
            at + len <= size
              ? bytes.subarray(at, at + len)
              : this.#unwrap(at, len),
          );
          if (this.#closed || count >= maxRecords) break;
        }
        if (pos - published >= publishEvery) {
          Atomics.store(this.#consumer, 0, BigInt(pos));
          published = pos;
          producer = Number(Atomics.load(this.#producer, 0));
        }
      }
    } finally {
      if (pos !== published) Atomics.store(this.#consumer, 0, BigInt(pos));
      this.#pos = pos;
      this.#draining = false;
      if (this.#closed) this.#release();
    }
    return count;
  }

  /** Copies the record of `len` bytes at `at` that wraps past the ring's end. */
  #unwrap(at: number, len: number): Uint8Array {
    const bytes = this.#bytes;
    if (this.#scratch.length < len) {
      // Powers of two: a few growths at most, whatever the record sizes.
      this.#scratch = new Uint8Array(2 ** Math.ceil(Math.log2(len)));
    }
    const scratch = this.#scratch;
    const head = bytes.length - at;
    scratch.set(bytes.subarray(at), 0);
    scratch.set(bytes.subarray(0, len - head), head);
    return scratch.subarray(0, len);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    // Closed from a drain callback: the drain releases the memory when the
    // callback returns.
    if (!this.#draining) this.#release();
  }

  #release(): void {
    // Views of the scratch copy handed out earlier become empty too.
    this.#scratch.buffer.transfer();
    this.#mem.unmap();
    closeFd(this.#fd);
  }
}
