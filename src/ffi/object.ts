/**
 * A BPF object loaded in process by libbpf, unpinned: its programs, maps
 * and raw tracepoint attachments live as long as this process holds them
 * (or until {@linkcode BpfObject.close}), so nothing is left behind when
 * the controller dies. The uprobe program is loaded by bpftool and pinned
 * instead, because it must outlive a killed controller; helper programs
 * such as the exec-event tracer need not.
 *
 * @module
 */

import { bpfLib, cLib } from "./_lib.ts";
import { cString } from "./bpf.ts";
import { lastErrno, privilegeHint, SysError } from "./errors.ts";

/** A loaded BPF object; every fd it hands out stays owned by it unless dup'ed. */
export interface BpfObject {
  /**
   * Attaches program `program` to the raw tracepoint `tracepoint`
   * (BPF_RAW_TRACEPOINT_OPEN); it stays attached until close.
   */
  attachRawTracepoint(program: string, tracepoint: string): void;
  /** A new fd of map `name` (the caller closes it). */
  dupMapFd(name: string): number;
  /** Detaches, unloads and closes everything. Idempotent. */
  close(): void;
}

/** Options of {@linkcode loadBpfObject}. */
export interface LoadBpfObjectOptions {
  /**
   * max_entries to set on maps before loading, by map name (for a ring
   * buffer: its size in bytes, a power of two and a multiple of the page).
   */
  maxEntries?: Record<string, number>;
}

/**
 * Loads the BPF ELF object `bytes` (named `what` in errors) with libbpf.
 * Throws a {@linkcode SysError} naming the failing call; libbpf prints the
 * verifier log on stderr.
 */
export function loadBpfObject(
  bytes: Uint8Array,
  what: string,
  options: LoadBpfObjectOptions = {},
): BpfObject {
  const lib = bpfLib();
  // libbpf reads the ELF in place until load returns: keep `buf` alive.
  const buf = new Uint8Array(bytes);
  const obj = lib.bpf_object__open_mem(buf, BigInt(buf.length), null);
  if (obj === null) {
    throw new SysError(
      "bpf_object__open_mem",
      `Cannot open the BPF object ${what}`,
      lastErrno(),
    );
  }
  const tracepointFds: number[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const fd of tracepointFds.splice(0)) cLib().close(fd);
    lib.bpf_object__close(obj);
  };
  for (const [name, entries] of Object.entries(options.maxEntries ?? {})) {
    const map = lib.bpf_object__find_map_by_name(obj, cString(name));
    const set = map === null
      ? -2 // ENOENT
      : lib.bpf_map__set_max_entries(map, entries);
    if (set < 0) {
      close();
      throw new SysError(
        "bpf_map__set_max_entries",
        `Cannot size map ${name} of ${what} to ${entries} entries`,
        -set,
      );
    }
  }
  const loaded = lib.bpf_object__load(obj);
  buf.fill(0); // keeps buf alive until after the load
  if (loaded < 0) {
    close();
    throw new SysError(
      "bpf_object__load",
      `Cannot load the BPF object ${what}`,
      -loaded,
      privilegeHint(-loaded),
    );
  }
  return {
    attachRawTracepoint(program, tracepoint) {
      const prog = lib.bpf_object__find_program_by_name(obj, cString(program));
      if (prog === null) {
        throw new Error(`Cannot find program ${program} in ${what}.`);
      }
      const fd = lib.bpf_raw_tracepoint_open(
        cString(tracepoint),
        lib.bpf_program__fd(prog),
      );
      if (fd < 0) {
        throw new SysError(
          "bpf_raw_tracepoint_open",
          `Cannot attach ${program} of ${what} to the raw tracepoint ${tracepoint}`,
          -fd,
          privilegeHint(-fd),
        );
      }
      tracepointFds.push(fd);
    },
    dupMapFd(name) {
      const fd = lib.bpf_object__find_map_fd_by_name(obj, cString(name));
      if (fd < 0) throw new Error(`Cannot find map ${name} in ${what}.`);
      const copy = cLib().dup(fd);
      if (copy < 0) {
        throw new SysError("dup", `Cannot use map ${name}`, lastErrno());
      }
      return copy;
    },
    close,
  };
}
