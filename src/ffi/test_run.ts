/**
 * Runs the probe's test build (a syscall program that calls the uprobe's
 * code in a bpf_loop) with BPF_PROG_TEST_RUN, as if the Go SDK had called
 * `ended(batch)`: the register context holds SP, and the fake caller stack
 * at SP holds a return address, then the batch's pointer, length and
 * capacity (Go's ABI0, as bpf/ended.h says). Tests and benchmarks fill the
 * ring this way without a target process; the pointers stay in here.
 *
 * @module
 */

import { progTestRun } from "./bpf.ts";

/** Offset of SP in the register context (struct pt_regs / user_pt_regs, UAPI). */
export const uprobeSpOffset: Record<string, number> = { x86: 152, arm64: 248 };
const regsSize: Record<string, number> = { x86: 168, arm64: 272 };

/** Drives one loaded test program; see the module doc. */
export class UprobeTestRun {
  readonly #progFd: number;
  readonly #stack = new Uint8Array(32);
  readonly #ctx: Uint8Array<ArrayBuffer>;

  /** Prepares runs of the program `progFd` with registers laid out for `arch` ("x86" or "arm64"). */
  constructor(progFd: number, arch: string) {
    this.#progFd = progFd;
    this.#ctx = new Uint8Array(8 + regsSize[arch]);
    new DataView(this.#ctx.buffer).setBigUint64(
      8 + uprobeSpOffset[arch],
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#stack))),
      true,
    );
  }

  /** Runs the program `count` times as if ended(batch) were called. */
  call(batch: Uint8Array<ArrayBuffer>, count = 1): void {
    const addr = batch.length
      ? BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(batch)))
      : 0n;
    this.#run(addr, batch.length, count);
    batch.fill(batch[0] ?? 0, 0, 0); // keeps batch alive until after the run
  }

  /** Runs the program as if ended() got a `len`-byte batch in page 0, which is never mapped. */
  callUnreadable(len: number, count = 1): void {
    this.#run(8n, len, count);
  }

  #run(addr: bigint, len: number, count: number): void {
    const stack = new DataView(this.#stack.buffer);
    stack.setBigUint64(8, addr, true);
    stack.setBigUint64(16, BigInt(len), true);
    stack.setBigUint64(24, BigInt(len), true);
    new DataView(this.#ctx.buffer).setBigUint64(0, BigInt(count), true);
    progTestRun(this.#progFd, this.#ctx);
  }
}
