/**
 * The memory and wake-up primitives of a BPF ring buffer reader: the two
 * mmaps of a ring map (as laid out by the kernel's ringbuf), and an epoll
 * set holding the ring fd plus an eventfd that cancels a pending wait.
 *
 * The kernel lays the data pages out twice back to back, so that a reader
 * mapping both copies never sees a record wrap; libbpf maps both. Its mmap
 * handler takes any length up to that, and fills every page of the mapping
 * at mmap time, so each copy counts in the process's RSS (32 MiB of data
 * are 64 MiB of VmRSS mapped twice). This maps the data area once: the
 * reader handles a record that wraps past its end.
 *
 * @module
 */

import { cLib } from "./_lib.ts";
import { lastErrno, SysError } from "./errors.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
/** (void *)-1 */
const MAP_FAILED = 2n ** 64n - 1n;

/** The mapped pages of a ring buffer map. */
export interface RingMemory {
  /** The consumer page (read-write): consumer_pos at offset 0. */
  consumer: ArrayBuffer;
  /** The producer page (read-only): producer_pos at offset 0. */
  producer: ArrayBuffer;
  /**
   * The data area, mapped once: a record that starts near its end
   * continues at its start.
   */
  data: ArrayBuffer;
  /** The ring size in bytes (a power of two). */
  size: number;
  /** Unmaps the pages; the ArrayBuffers above are detached first. */
  unmap(): void;
}

function mmap(
  len: number,
  prot: number,
  fd: number,
  offset: number,
  what: string,
): Deno.PointerObject {
  const ptr = cLib().mmap(
    null,
    BigInt(len),
    prot,
    MAP_SHARED,
    fd,
    BigInt(offset),
  );
  if (
    ptr === null || BigInt(Deno.UnsafePointer.value(ptr)) === MAP_FAILED
  ) {
    throw new SysError("mmap", `Cannot map ${what}`, lastErrno());
  }
  return ptr;
}

/**
 * Maps ring buffer map `fd` of `size` bytes: the consumer page read-write,
 * the producer page and the data area (once) read-only.
 */
export function mapRing(fd: number, size: number, what: string): RingMemory {
  const page = cLib().getpagesize();
  const consPtr = mmap(page, PROT_READ | PROT_WRITE, fd, 0, what);
  let prodPtr: Deno.PointerObject;
  try {
    prodPtr = mmap(page + size, PROT_READ, fd, page, what);
  } catch (e) {
    cLib().munmap(consPtr, BigInt(page));
    throw e;
  }
  const consumer = Deno.UnsafePointerView.getArrayBuffer(consPtr, page);
  const producer = Deno.UnsafePointerView.getArrayBuffer(prodPtr, page);
  const data = Deno.UnsafePointerView.getArrayBuffer(prodPtr, size, page);
  let mapped = true;
  return {
    consumer,
    producer,
    data,
    size,
    unmap() {
      if (!mapped) return;
      mapped = false;
      // Detaching turns any view still held into an empty one instead of a
      // pointer into unmapped memory.
      for (const b of [consumer, producer, data]) detach(b);
      cLib().munmap(consPtr, BigInt(page));
      cLib().munmap(prodPtr, BigInt(page + size));
    },
  };
}

function detach(buffer: ArrayBuffer): void {
  try {
    structuredClone(buffer, { transfer: [buffer] });
  } catch {
    // An external buffer that cannot be detached: views must not outlive it.
  }
}

const EPOLL_CTL_ADD = 1;
const EPOLLIN = 1;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EPOLL_CLOEXEC = 0o2000000;
const EVENT_SIZE = 12; // struct epoll_event is packed on x86_64, 16 on arm64
const RING_TAG = 1n;
const CANCEL_TAG = 2n;

/** An epoll set watching a ring fd, with a way to cancel a pending wait. */
export class RingPoller {
  #epfd: number;
  #cancelFd: number;
  #events = new Uint8Array(4 * 16);
  #closed = false;
  #pending: Promise<number> | null = null;

  /** Watches `ringFd` for readable data. */
  constructor(ringFd: number) {
    const c = cLib();
    this.#epfd = c.epoll_create1(EPOLL_CLOEXEC);
    if (this.#epfd < 0) {
      throw new SysError(
        "epoll_create1",
        "Cannot watch the ring buffer",
        lastErrno(),
      );
    }
    this.#cancelFd = c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.#cancelFd < 0) {
      const errno = lastErrno();
      c.close(this.#epfd);
      throw new SysError("eventfd", "Cannot watch the ring buffer", errno);
    }
    try {
      this.#add(ringFd, RING_TAG);
      this.#add(this.#cancelFd, CANCEL_TAG);
    } catch (e) {
      c.close(this.#cancelFd);
      c.close(this.#epfd);
      throw e;
    }
  }

  #add(fd: number, tag: bigint): void {
    const ev = new Uint8Array(16);
    const v = new DataView(ev.buffer);
    v.setUint32(0, EPOLLIN, true);
    v.setBigUint64(Deno.build.arch === "x86_64" ? 4 : 8, tag, true);
    if (cLib().epoll_ctl(this.#epfd, EPOLL_CTL_ADD, fd, ev) < 0) {
      throw new SysError(
        "epoll_ctl",
        "Cannot watch the ring buffer",
        lastErrno(),
      );
    }
  }

  /**
   * Blocks (off the JS thread) until the ring is readable, `timeoutMs`
   * passes or {@linkcode RingPoller.close} is called. Resolves true when
   * the ring is readable. One wait at a time.
   */
  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#pending) {
      throw new Error(
        "Cannot wait on the ring buffer: a wait is already pending.",
      );
    }
    const maxEvents = this.#events.length / 16;
    this.#pending = cLib().epoll_wait(
      this.#epfd,
      this.#events,
      maxEvents,
      Math.max(0, Math.floor(timeoutMs)),
    );
    let n: number;
    try {
      n = await this.#pending;
    } finally {
      this.#pending = null;
      if (this.#closed) this.#release();
    }
    // n < 0: on a valid epoll set only a signal (EINTR) does that; errno
    // belongs to the worker thread that made the call, so just report "no
    // data" and let the caller loop.
    if (n <= 0 || this.#closed) return false;
    const v = new DataView(this.#events.buffer);
    const stride = Deno.build.arch === "x86_64" ? EVENT_SIZE : 16;
    const tagAt = Deno.build.arch === "x86_64" ? 4 : 8;
    for (let i = 0; i < n; i++) {
      if (v.getBigUint64(i * stride + tagAt, true) === RING_TAG) return true;
    }
    return false;
  }

  /** Wakes a pending wait (it resolves false) and releases the fds. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending) {
      // The wait's thread still uses the fds: it closes them when it ends.
      cLib().write(
        this.#cancelFd,
        new Uint8Array(new BigUint64Array([1n]).buffer),
        8n,
      );
    } else {
      this.#release();
    }
  }

  #release(): void {
    cLib().close(this.#cancelFd);
    cLib().close(this.#epfd);
    this.#cancelFd = this.#epfd = -1;
  }
}
