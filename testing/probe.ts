/**
 * The test probe, for the probe's kernel tests and the ring benchmark: the
 * BPF_PROG_TEST_RUN variant of the probe (driven through src/ffi, which
 * holds the pointers), payloads, and an emitter target with its probe
 * offset. The eBPF gate and the pin-root helpers are in ./ebpf.ts.
 *
 * It loads the probe's own test build and switches recording through the
 * probe's config map, so it reads two of src/probe's private files
 * (`_objects.ts`, `_maps.ts`), as that folder's own tests do; the product
 * exposes neither.
 *
 * @module
 */

import { openProbe, type Probe, type ProbeOptions } from "../src/probe/mod.ts";
import {
  closeFd,
  objGet,
  pinToCurrentCpu,
  uprobeSpOffset,
  UprobeTestRun,
} from "../src/ffi/mod.ts";
import { ProbeMaps } from "../src/probe/_maps.ts";
import { HEADER_SIZE, readHeader } from "../src/decode/mod.ts";
import {
  objectArch,
  type ProbeKind,
  readObject,
} from "../src/probe/_objects.ts";
import { removePinRoot, testPinRoot } from "./ebpf.ts";
import { run } from "./go_binaries.ts";
import { symbolFileOffset } from "./symbols.ts";

/** Payload byte i of a batch of `size` bytes, as the emitter makes it. */
function payloadByte(i: number, size: number): number {
  return (i * 31 + size) & 0xff;
}

/** A batch of `size` bytes following {@linkcode payloadByte}. */
export function makePayload(size: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = payloadByte(i, size);
  return b;
}

/** Offsets of SP in the register context of each architecture (UAPI). */
export const spOffset: Record<string, number> = uprobeSpOffset;

/** A probe running the syscall-program build, driven with {@linkcode TestProbe.emit}. */
export interface TestProbe {
  /** The probe (attach does not apply to the test build). */
  probe: Probe;
  /**
   * Runs the program `count` times as if ended(batch) were called, with
   * the registers laid out for `arch` (default this machine's).
   */
  emit(batch: Uint8Array<ArrayBuffer>, count?: number): void;
  /** Like emit, with a `len`-byte batch the probe cannot read (page 0). */
  emitUnreadable(len: number, count?: number): void;
  /** Turns recording on or off (hits are counted either way). */
  setEnabled(enabled: boolean): void;
  /** Closes the probe and removes the pin root. */
  close(): void;
}

/** Opens a probe over the BPF_PROG_TEST_RUN build of `kind` for `arch`. */
export async function openTestProbe(
  kind: ProbeKind,
  options: ProbeOptions & { arch?: string } = {},
): Promise<TestProbe> {
  const arch = options.arch ?? objectArch();
  const dir = new URL("../build/bpf/", import.meta.url).pathname;
  const bytes = arch === objectArch()
    ? readObject(kind, undefined, options.objectDir, "_test")
    : Deno.readFileSync(
      `${options.objectDir ?? dir}/ended_${kind}_test.${arch}.o`,
    );
  const pinRoot = options.pinRoot ?? testPinRoot();
  const probe = await openProbe({
    ...options,
    pinRoot,
    kind,
    objects: { [kind]: bytes },
  });
  const progFd = objGet(`${probe.pinDir}/progs/ended_${kind}`);
  const maps = new ProbeMaps(`${probe.pinDir}/maps`);
  // The record sequence is per CPU: every run of one test probe must happen
  // on the same CPU for the tests' sequence checks to hold.
  const unpin = pinToCurrentCpu();
  const run = new UprobeTestRun(progFd, arch);
  return {
    probe,
    emit: (batch, count = 1) => run.call(batch, count),
    emitUnreadable: (len, count = 1) => run.callUnreadable(len, count),
    setEnabled: (enabled) => maps.setConfig({ ...maps.config(), enabled }),
    close() {
      unpin();
      maps.close();
      closeFd(progFd);
      probe.close();
      if (!options.pinRoot) removePinRoot(pinRoot);
    },
  };
}

/** Parses a ring record's sb_record_header (the decoder's reader). */
export const parseHeader: typeof readHeader = readHeader;

/** Index of the first byte of `rec`'s payload that is not {@linkcode payloadByte}, or -1. */
export function firstBadByte(rec: Uint8Array, size: number): number {
  for (let i = 0; i < size; i++) {
    if (rec[HEADER_SIZE + i] !== payloadByte(i, size)) return i;
  }
  return -1;
}

const goDir = new URL("../go/", import.meta.url).pathname;
/** The probe point's ELF symbol (go/sdk/internal/handoff.Symbol). */
export const endedSymbol =
  "github.com/spanbridge/spanbridge/go/sdk/internal/handoff.ended.abi0";

/** A built emitter executable and the file offset of its ended() body. */
export interface Emitter {
  /** Path of the executable. */
  path: string;
  /** File offset to attach to. */
  offset: number;
}

/**
 * Builds the test emitter (go/sdk/internal/handoff/emitter) to `path` and
 * finds ended()'s file offset with the symbol-offset oracle.
 */
export async function buildEmitter(path: string): Promise<Emitter> {
  await run(["go", "build", "-o", path, "./sdk/internal/handoff/emitter"], {
    cwd: goDir,
  });
  return { path, offset: await symbolFileOffset(path, endedSymbol) };
}

/** Runs the emitter: waits for the probe, sends `count` rounds of `sizes`. */
export async function runEmitter(
  e: Emitter,
  sizes: number[],
  count = 1,
): Promise<void> {
  const out = await run([
    e.path,
    "-wait-attach",
    "10s",
    "-sizes",
    sizes.join(","),
    "-count",
    `${count}`,
  ]);
  if (!out.includes(`sent ${sizes.length * count}`)) {
    throw new Error(`The emitter printed: ${out}`);
  }
}
