/**
 * Finds spanbridge's probe point in a Go binary: the file offset of the
 * first instruction of the SDK's assembly function `ended`, where the uprobe
 * goes, with the binary's identity (dev/inode) and Go build info.
 *
 * Symbol names: the assembly body is an ABI0 function. Go 1.26 names it
 * `<pkg>.ended.abi0` in .symtab even without a wrapper; older toolchains name
 * it `<pkg>.ended` unless a Go-ABI wrapper exists, which then takes the plain
 * name. So `.abi0` wins when both exist. The pclntab (stripped binaries)
 * names body and wrapper alike, without suffix: the one whose code starts
 * with the SDK's NOP is the body.
 *
 * Forks: when the exact package path is absent, a function `ended` of any
 * package whose path ends in `/sdk/internal/handoff` is accepted (a fork of
 * the SDK under another module path; vendoring and `replace` keep the
 * original path), provided exactly one such package exists. The NOP check
 * guards against a look-alike.
 *
 * @module
 */

import { readBuildInfo } from "./buildinfo.ts";
import type { GoBuildInfo } from "./buildinfo.ts";
import { type Arch, ElfFile } from "./elf.ts";
import { TargetError } from "./errors.ts";
import { findTextStart } from "./moduledata.ts";
import { locatePclnTab, parsePclnTab } from "./pclntab.ts";
import { onOverlay } from "./overlay.ts";
import { fileVersion, type ProcessInfo, processInfo } from "./proc.ts";

/** The Go package of the probe point. */
export const probePackage =
  "github.com/spanbridge/spanbridge/go/sdk/internal/handoff";
/** The full Go name of the probe point function. */
export const probeFunction = `${probePackage}.ended`;
/** The Go package to import to get the probe point. */
export const sdkModule = "github.com/spanbridge/spanbridge/go/sdk";
const sdkModulePath = "github.com/spanbridge/spanbridge/go";

const forkSuffix = "/sdk/internal/handoff.ended";

/**
 * The first instruction of `ended` for each architecture: the 5-byte NOP
 * that lets kernels 6.18+ optimise the uprobe on x86_64, and NOP on aarch64.
 */
export const probeNop: Record<Arch, Uint8Array> = {
  x86_64: new Uint8Array([0x0f, 0x1f, 0x44, 0x00, 0x00]),
  aarch64: new Uint8Array([0x1f, 0x20, 0x03, 0xd5]),
};

/** A Go binary that contains the probe point, ready to attach to. */
export interface TargetBinary {
  /** The path as given. Attach with this path (the kernel resolves it to dev/ino). */
  path: string;
  /** The canonical path (symlinks resolved), for display and watching. */
  realPath: string;
  /** The device of the file that was read. */
  dev: number;
  /**
   * The inode of the file that was read; the uprobe sits on this inode (on
   * overlayfs, on the real file under it, whose inode number this is, or
   * for a copied-up file, that of the file it was copied from).
   */
  ino: number;
  /** True when the file lies on overlayfs (see `ExeFile.overlay` in proc.ts). */
  overlay?: boolean;
  /**
   * The content identity of the file that was read (change time,
   * modification time, size; see `fileVersion`): a file rewritten in place
   * keeps its inode but not this.
   */
  version: string;
  /** The Go build ID (.note.go.buildid), when the linker wrote one. */
  buildId: string | undefined;
  /** The CPU architecture. */
  arch: Arch;
  /** The symbol (or, when stripped, the pclntab function name) of the probe point. */
  endedSymbol: string;
  /** The virtual address of the probe point. */
  endedAddress: number;
  /** The file offset of the probe point: the uprobe offset. */
  endedOffset: number;
  /** True when the binary has no symbol table and the pclntab was used. */
  stripped: boolean;
  /** The embedded Go build info; undefined if the binary has none. */
  build: GoBuildInfo | undefined;
}

/**
 * Reads the Go binary at `path` and locates the probe point. Throws a
 * {@linkcode TargetError} whose message says what is wrong and what to do
 * when the file is missing, not a 64-bit x86_64/aarch64 ELF file, not a Go
 * program, a Go program without the SDK, a stripped binary whose pclntab
 * cannot be read, or when the probe point's first instruction is not the
 * expected NOP. With `expect`, a file of another device or inode is refused
 * as "not-found" before it is read (see {@linkcode ElfFile.open}).
 *
 * @example
 * ```ts
 * const t = await resolveTarget("./bin/server");
 * console.log(t.path, t.endedOffset.toString(16), t.build?.goVersion);
 * ```
 */
export async function resolveTarget(
  path: string,
  expect?: { dev: number; ino: number },
): Promise<TargetBinary> {
  const elf = await ElfFile.open(path, expect);
  try {
    const build = await readBuildInfo(elf);
    const pcln = await locatePclnTab(elf);
    if (pcln === undefined && build === undefined) {
      throw new TargetError(
        "not-go",
        `Cannot use ${path} as a target: it is not a Go program (it has neither Go build info nor a Go function table); spanbridge traces Go programs that import ${sdkModule}.`,
      );
    }
    let found: Found;
    try {
      found = await fromSymtab(elf) ?? await fromPclnTab(elf, pcln);
    } catch (err) {
      if (err instanceof TargetError && err.kind === "no-probe-point") {
        throw new TargetError(err.kind, err.message + hint(build));
      }
      throw err;
    }
    return {
      path,
      realPath: await realPath(path),
      dev: elf.stat.dev,
      ino: elf.stat.ino ?? 0,
      version: fileVersion(elf.stat),
      overlay: onOverlay(path),
      buildId: await goBuildId(elf),
      arch: elf.arch,
      ...found,
      build,
    };
  } finally {
    elf.close();
  }
}

/**
 * Resolves the binary a running process executes, for `--pid`: the process
 * info and the target read through /proc/<pid>/exe, which works even when
 * the file was deleted or replaced since the process started. The target's
 * `path` is /proc/<pid>/exe (valid for attaching while the process lives) and
 * its `realPath` the executable's path as the process sees it.
 */
export async function resolveProcessTarget(
  pid: number,
): Promise<{ process: ProcessInfo; target: TargetBinary }> {
  const process = await processInfo(pid);
  const target = await resolveTarget(`/proc/${pid}/exe`);
  if (target.dev !== process.dev || target.ino !== process.ino) {
    throw new TargetError(
      "not-found",
      `Cannot inspect process ${pid}: it exited or executed another program while being read; check the pid and try again.`,
    );
  }
  return { process, target: { ...target, realPath: process.exePath } };
}

interface Found {
  endedSymbol: string;
  endedAddress: number;
  endedOffset: number;
  stripped: boolean;
}

async function fromSymtab(elf: ElfFile): Promise<Found | undefined> {
  const syms = await elf.functionSymbols([forkSuffix, forkSuffix + ".abi0"]);
  if (syms === undefined) return undefined;
  const pkg = (name: string) => name.replace(/\.abi0$/, "");
  const exact = syms.filter((s) => pkg(s.name) === probeFunction);
  const candidates = onePackage(
    elf.path,
    exact.length > 0 ? exact : syms,
    (s) => pkg(s.name),
  );
  const sym = candidates.find((s) => s.name.endsWith(".abi0")) ?? candidates[0];
  const offset = await checkCode(elf, sym.name, sym.value);
  return {
    endedSymbol: sym.name,
    endedAddress: sym.value,
    endedOffset: offset,
    stripped: false,
  };
}

async function fromPclnTab(
  elf: ElfFile,
  pcln: Awaited<ReturnType<typeof locatePclnTab>>,
): Promise<Found> {
  if (pcln === undefined) {
    throw new TargetError(
      "unreadable",
      `Cannot find the probe point in ${elf.path}: it has no symbol table and no Go function table (pclntab) was found; rebuild it without stripping (drop -ldflags='-s -w').`,
    );
  }
  const tab = await parsePclnTab(pcln.range, elf.path);
  const exact = await tab.find(probeFunction);
  const funcs = onePackage(
    elf.path,
    exact.length > 0 ? exact : await tab.find(forkSuffix, true),
    (f) => f.name,
  );
  const text = await findTextStart(elf, pcln, tab);
  if (text === undefined) {
    throw new TargetError(
      "unreadable",
      `Cannot find the probe point in ${elf.path}: it has no symbol table and the start of its Go text (runtime.text) could not be found in its module data; rebuild it without stripping (drop -ldflags='-s -w').`,
    );
  }
  // Body and ABI wrapper share the name here: the body starts with the NOP.
  let firstError: unknown;
  for (const f of funcs) {
    try {
      const addr = text + f.entryOffset;
      const offset = await checkCode(elf, f.name, addr);
      return {
        endedSymbol: f.name,
        endedAddress: addr,
        endedOffset: offset,
        stripped: true,
      };
    } catch (err) {
      firstError ??= err;
    }
  }
  throw firstError;
}

/** Keeps the candidates of a single package, or explains why that fails. */
function onePackage<T>(path: string, found: T[], name: (t: T) => string): T[] {
  const names = [...new Set(found.map(name))];
  if (names.length === 0) {
    throw new TargetError(
      "no-probe-point",
      `${path} does not contain spanbridge's probe point (${probeFunction}): the program does not use spanbridge's SDK; import ${sdkModule} and rebuild it.`,
    );
  }
  if (names.length > 1) {
    throw new TargetError(
      "bad-probe-point",
      `${path} contains several copies of spanbridge's probe point (${
        names.join(", ")
      }); spanbridge can trace only one; build the program with a single copy of the SDK.`,
    );
  }
  return found;
}

/** Checks that the code at `addr` starts with the NOP; returns its file offset. */
async function checkCode(
  elf: ElfFile,
  name: string,
  addr: number,
): Promise<number> {
  const offset = elf.fileOffset(addr, true);
  const where = `${name} at 0x${addr.toString(16)}`;
  if (offset === undefined) {
    throw new TargetError(
      "bad-probe-point",
      `Cannot use ${where} in ${elf.path}: that address is not in an executable segment of the file; the binary is damaged or was post-processed.`,
    );
  }
  const want = probeNop[elf.arch];
  const got = await elf.read(offset, want.length);
  if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
    throw new TargetError(
      "bad-probe-point",
      `Cannot use ${where} (file offset 0x${
        offset.toString(16)
      }) in ${elf.path}: its first instruction is ${hex(got)}, not the NOP ${
        hex(want)
      } spanbridge's SDK emits; the SDK copy in the program is not one this spanbridge supports, so update the SDK or spanbridge.`,
    );
  }
  return offset;
}

/** The Go build ID from the ELF note "Go" of type 4, if present. */
async function goBuildId(elf: ElfFile): Promise<string | undefined> {
  const section = elf.section(".note.go.buildid");
  if (section === undefined) return undefined;
  const note = await elf.readSection(section);
  if (note.length < 16) return undefined;
  const v = new DataView(note.buffer, note.byteOffset, note.byteLength);
  const nameSize = v.getUint32(0, true);
  const descSize = v.getUint32(4, true);
  const descStart = 12 + ((nameSize + 3) & ~3);
  if (v.getUint32(8, true) !== 4 || descStart + descSize > note.length) {
    return undefined;
  }
  return new TextDecoder().decode(
    note.subarray(descStart, descStart + descSize),
  );
}

function hint(build: GoBuildInfo | undefined): string {
  if (build === undefined) return "";
  const mods = [build.mainModule, ...build.deps];
  const sdk = mods.find((m) => m.path === sdkModulePath);
  if (sdk === undefined) return "";
  return ` (Its build info lists module ${sdk.path} ${sdk.version}: if the program never exports spans, the linker drops the probe point.)`;
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}

/** `path` with its links resolved, or as it is when it has no real path. */
async function realPath(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    // /proc/<pid>/exe of a deleted file has no real path; keep the given one.
    return path;
  }
}
