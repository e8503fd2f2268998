/**
 * The FFI symbol tables of libbpf.so.1 and libc, opened on first use. Only
 * the typed wrappers in src/ffi use these.
 *
 * @module
 */

import { EnvironmentError } from "../errors.ts";

const libbpfSymbols = {
  bpf_obj_get: { parameters: ["buffer"], result: "i32" },
  bpf_obj_pin: { parameters: ["i32", "buffer"], result: "i32" },
  bpf_link_create: {
    parameters: ["i32", "i32", "u32", "pointer"],
    result: "i32",
  },
  bpf_map_lookup_elem: {
    parameters: ["i32", "buffer", "buffer"],
    result: "i32",
  },
  bpf_map_update_elem: {
    parameters: ["i32", "buffer", "buffer", "u64"],
    result: "i32",
  },
  bpf_map_delete_elem: { parameters: ["i32", "buffer"], result: "i32" },
  bpf_map_get_next_key: {
    parameters: ["i32", "buffer", "buffer"],
    result: "i32",
  },
  bpf_obj_get_info_by_fd: {
    parameters: ["i32", "buffer", "buffer"],
    result: "i32",
  },
  bpf_prog_test_run_opts: { parameters: ["i32", "buffer"], result: "i32" },
  libbpf_num_possible_cpus: { parameters: [], result: "i32" },
  libbpf_probe_bpf_map_type: { parameters: ["u32", "pointer"], result: "i32" },
  bpf_object__open_mem: {
    parameters: ["buffer", "usize", "pointer"],
    result: "pointer",
  },
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  bpf_object__close: { parameters: ["pointer"], result: "void" },
  bpf_object__find_program_by_name: {
    parameters: ["pointer", "buffer"],
    result: "pointer",
  },
  bpf_object__find_map_fd_by_name: {
    parameters: ["pointer", "buffer"],
    result: "i32",
  },
  bpf_object__find_map_by_name: {
    parameters: ["pointer", "buffer"],
    result: "pointer",
  },
  bpf_map__set_max_entries: { parameters: ["pointer", "u32"], result: "i32" },
  bpf_program__fd: { parameters: ["pointer"], result: "i32" },
  bpf_raw_tracepoint_open: { parameters: ["buffer", "i32"], result: "i32" },
} as const;

const libcSymbols = {
  // perf_event_open has no libc wrapper; syscall() is variadic, which is
  // fine for integer arguments on x86_64 and arm64 Linux.
  syscall: {
    parameters: ["i64", "buffer", "i32", "i32", "i32", "u64"],
    result: "i64",
  },
  close: { parameters: ["i32"], result: "i32" },
  // ioctl() is variadic; its one integer argument passes like a fixed one
  // on x86_64 and arm64 Linux.
  ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" },
  dup: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  mmap: {
    parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"],
    result: "pointer",
  },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  // Blocks in the kernel on a Deno worker thread, so the event loop runs on.
  epoll_wait: {
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  sched_getcpu: { parameters: [], result: "i32" },
  sched_getaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  sched_setaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  statfs: { parameters: ["buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type Libbpf = Deno.DynamicLibrary<typeof libbpfSymbols>["symbols"];
type Libc = Deno.DynamicLibrary<typeof libcSymbols>["symbols"];

let libbpf: Libbpf | undefined;
let libc: Libc | undefined;

function open<S extends Deno.ForeignLibraryInterface>(
  name: string,
  symbols: S,
  hint: string,
): Deno.DynamicLibrary<S>["symbols"] {
  try {
    return Deno.dlopen(name, symbols).symbols;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new EnvironmentError(`Cannot load ${name}: ${why}. ${hint}`, {
      cause: e,
    });
  }
}

/** libbpf.so.1, opened on first use. */
export function bpfLib(): Libbpf {
  return libbpf ??= open(
    "libbpf.so.1",
    libbpfSymbols,
    "Install libbpf 1.x (apt-get install libbpf1) and run Deno with --allow-ffi.",
  );
}

/** The C library, opened on first use. */
export function cLib(): Libc {
  return libc ??= open("libc.so.6", libcSymbols, "Run Deno with --allow-ffi.");
}
