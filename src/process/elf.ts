/**
 * A reader of 64-bit little-endian ELF executables (x86_64 and aarch64): the
 * program headers, the section headers, the symbol table, and the mapping of a
 * virtual address to a file offset, which is what a uprobe needs.
 *
 * Only the headers are read up front; section contents are read on demand,
 * so a 100 MB binary costs a few small reads.
 *
 * @module
 */

import { TargetError } from "./errors.ts";
import { accessAdvice } from "./self.ts";

/** The CPU architectures spanbridge can probe, in ELF's names. */
export type Arch = "x86_64" | "aarch64";

/** A program header (segment). */
export interface ElfSegment {
  /** p_type, e.g. 1 for PT_LOAD. */
  type: number;
  /** p_flags: 1 = X, 2 = W, 4 = R. */
  flags: number;
  /** p_offset: where the segment starts in the file. */
  offset: number;
  /** p_vaddr: where the segment is mapped. */
  vaddr: number;
  /** p_filesz: how many bytes come from the file. */
  filesz: number;
  /** p_memsz: the size in memory (at least filesz). */
  memsz: number;
}

/** A section header, with its name resolved. */
export interface ElfSection {
  /** The section name, e.g. ".gopclntab". */
  name: string;
  /** sh_type: 2 = SYMTAB, 8 = NOBITS. */
  type: number;
  /** sh_addr: the address when loaded (0 if not loaded). */
  addr: number;
  /** sh_offset: where the contents are in the file. */
  offset: number;
  /** sh_size in bytes. */
  size: number;
  /** sh_link: for a symbol table, the index of its string table. */
  link: number;
}

/** A function symbol from .symtab. */
export interface ElfSymbol {
  /** The symbol name. */
  name: string;
  /** st_value: the function's address. */
  value: number;
  /** st_size in bytes. */
  size: number;
}

/** PT_LOAD, the type of a loaded segment. */
export const PT_LOAD = 1;
/** The executable flag of a segment. */
export const PF_X = 1;
/** The writable flag of a segment. */
export const PF_W = 2;

const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const STT_FUNC = 2;
const machines: Record<number, Arch> = { 62: "x86_64", 183: "aarch64" };

/**
 * ElfFile is an opened ELF executable. It keeps the file open: call
 * {@linkcode ElfFile.close} when done. Reading through one open file keeps
 * the contents consistent with the dev/inode of {@linkcode ElfFile.open}'s
 * stat even if the path is replaced meanwhile.
 */
export class ElfFile {
  /** The path the file was opened by (used in error messages). */
  readonly path: string;
  /** The file's metadata, taken from the open file. */
  readonly stat: Deno.FileInfo;
  /** The CPU architecture. */
  readonly arch: Arch;
  /** e_type: 2 = EXEC, 3 = DYN (PIE). */
  readonly type: number;
  /** All program headers. */
  readonly segments: ElfSegment[];
  /** All section headers (empty when the file has none). */
  readonly sections: ElfSection[];
  #file: Deno.FsFile;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    path: string,
    file: Deno.FsFile,
    stat: Deno.FileInfo,
    header: { arch: Arch; type: number },
    segments: ElfSegment[],
    sections: ElfSection[],
  ) {
    this.path = path;
    this.#file = file;
    this.stat = stat;
    this.arch = header.arch;
    this.type = header.type;
    this.segments = segments;
    this.sections = sections;
  }

  /**
   * Opens `path` and reads its ELF headers. Throws a {@linkcode TargetError}
   * when the file is missing, unreadable, not ELF, or not a 64-bit
   * little-endian x86_64/aarch64 file.
   */
  static async open(path: string): Promise<ElfFile> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (err) {
      throw openError(path, err);
    }
    try {
      const stat = await file.stat();
      if (!stat.isFile) {
        throw new TargetError(
          "not-elf",
          `Cannot use ${path} as a target: it is not a regular file; pass the path of a Go executable.`,
        );
      }
      const ident = await readAt(file, 0, Math.min(64, stat.size));
      const header = parseHeader(path, ident);
      const segments = parseSegments(
        await readAt(file, header.phoff, header.phnum * header.phentsize),
        header.phnum,
        header.phentsize,
      );
      const sections = await readSections(file, header);
      return new ElfFile(path, file, stat, header, segments, sections);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }

  /** Reads `length` bytes at file offset `offset` (fewer at end of file). */
  read(offset: number, length: number): Promise<Uint8Array> {
    // A read is a seek then reads on one shared file position: queue them.
    const result = this.#queue.then(() => readAt(this.#file, offset, length));
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Returns the first section called `name`, if any. */
  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** Reads a section's contents (empty for NOBITS sections). */
  readSection(s: ElfSection): Promise<Uint8Array> {
    if (s.type === SHT_NOBITS) return Promise.resolve(new Uint8Array());
    return this.read(s.offset, s.size);
  }

  /** The loaded segments, with their file-backed part. */
  loads(): ElfSegment[] {
    return this.segments.filter((p) => p.type === PT_LOAD);
  }

  /**
   * Returns the file offset of virtual address `addr` inside a file-backed
   * part of a PT_LOAD segment (an executable one when `executable` is true):
   * addr - p_vaddr + p_offset. Undefined when no such segment holds it.
   */
  fileOffset(addr: number, executable = false): number | undefined {
    for (const p of this.loads()) {
      if (executable && (p.flags & PF_X) === 0) continue;
      if (addr >= p.vaddr && addr < p.vaddr + p.filesz) {
        return addr - p.vaddr + p.offset;
      }
    }
    return undefined;
  }

  /**
   * Returns the function symbols of .symtab whose name satisfies `match`, or
   * undefined when the file has no symbol table (a stripped binary).
   */
  async functionSymbols(
    match: (name: string) => boolean,
  ): Promise<ElfSymbol[] | undefined> {
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    if (symtab === undefined) return undefined;
    const strtab = this.sections[symtab.link];
    if (strtab === undefined) return undefined;
    const [syms, strs] = await Promise.all([
      this.readSection(symtab),
      this.readSection(strtab),
    ]);
    const view = new DataView(syms.buffer, syms.byteOffset, syms.byteLength);
    // One latin1 decode of the whole string table is much faster than one
    // UTF-8 decode per symbol; the names we look for are ASCII, and a name is
    // only re-decoded as UTF-8 once it matched.
    const latin1 = new TextDecoder("latin1").decode(strs);
    const utf8 = new TextDecoder();
    const out: ElfSymbol[] = [];
    for (let off = 0; off + 24 <= syms.length; off += 24) {
      if ((syms[off + 4] & 0xf) !== STT_FUNC) continue;
      const start = view.getUint32(off, true);
      const end = latin1.indexOf("\0", start);
      const name = latin1.slice(start, end < 0 ? undefined : end);
      if (!match(name)) continue;
      out.push({
        name: utf8.decode(strs.subarray(start, start + name.length)),
        value: u64(view, off + 8),
        size: u64(view, off + 16),
      });
    }
    return out;
  }
}

interface Header {
  arch: Arch;
  type: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

function parseHeader(path: string, b: Uint8Array): Header {
  if (
    b.length < 16 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c ||
    b[3] !== 0x46
  ) {
    throw new TargetError(
      "not-elf",
      `Cannot use ${path} as a target: it is not an ELF executable; pass the path of a Go program built for Linux.`,
    );
  }
  if (b[4] !== 2) {
    throw new TargetError(
      "unsupported",
      `Cannot use ${path} as a target: it is a 32-bit ELF file, and spanbridge supports only 64-bit x86_64 and aarch64 programs; rebuild it with GOARCH=amd64 or GOARCH=arm64.`,
    );
  }
  if (b[5] !== 1) {
    throw new TargetError(
      "unsupported",
      `Cannot use ${path} as a target: it is a big-endian ELF file, and spanbridge supports only little-endian x86_64 and aarch64 programs.`,
    );
  }
  if (b.length < 64) {
    throw new TargetError(
      "not-elf",
      `Cannot use ${path} as a target: its ELF header is truncated (${b.length} bytes); the file is damaged or still being written.`,
    );
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const machine = v.getUint16(18, true);
  const arch = machines[machine];
  if (arch === undefined) {
    throw new TargetError(
      "unsupported",
      `Cannot use ${path} as a target: its ELF machine is ${machine}, and spanbridge supports only x86_64 (62) and aarch64 (183); rebuild it with GOARCH=amd64 or GOARCH=arm64.`,
    );
  }
  return {
    arch,
    type: v.getUint16(16, true),
    phoff: u64(v, 32),
    shoff: u64(v, 40),
    phentsize: v.getUint16(54, true),
    phnum: v.getUint16(56, true),
    shentsize: v.getUint16(58, true),
    shnum: v.getUint16(60, true),
    shstrndx: v.getUint16(62, true),
  };
}

function parseSegments(
  b: Uint8Array,
  count: number,
  size: number,
): ElfSegment[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: ElfSegment[] = [];
  for (let i = 0; i < count && (i + 1) * size <= b.length && size >= 56; i++) {
    const o = i * size;
    out.push({
      type: v.getUint32(o, true),
      flags: v.getUint32(o + 4, true),
      offset: u64(v, o + 8),
      vaddr: u64(v, o + 16),
      filesz: u64(v, o + 32),
      memsz: u64(v, o + 40),
    });
  }
  return out;
}

async function readSections(
  file: Deno.FsFile,
  h: Header,
): Promise<ElfSection[]> {
  if (h.shoff === 0 || h.shentsize < 64) return [];
  let { shnum, shstrndx } = h;
  if (shnum === 0 || shstrndx === 0xffff) {
    // Extended numbering: the real values live in section header 0.
    const b0 = await readAt(file, h.shoff, 64);
    if (b0.length < 64) return [];
    const first = new DataView(b0.buffer, b0.byteOffset, 64);
    if (shnum === 0) shnum = u64(first, 32);
    if (shstrndx === 0xffff) shstrndx = first.getUint32(40, true);
  }
  const b = await readAt(file, h.shoff, shnum * h.shentsize);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const raw = [];
  for (let i = 0; (i + 1) * h.shentsize <= b.length && i < shnum; i++) {
    const o = i * h.shentsize;
    raw.push({
      nameOff: v.getUint32(o, true),
      type: v.getUint32(o + 4, true),
      addr: u64(v, o + 16),
      offset: u64(v, o + 24),
      size: u64(v, o + 32),
      link: v.getUint32(o + 40, true),
    });
  }
  const strs = raw[shstrndx];
  const names = strs === undefined
    ? new Uint8Array()
    : await readAt(file, strs.offset, strs.size);
  return raw.map(({ nameOff, ...s }) => ({
    name: cString(names, nameOff),
    ...s,
  }));
}

/** Reads the NUL-terminated string at `off` of `b` (ASCII/UTF-8). */
function cString(b: Uint8Array, off: number): string {
  let end = b.indexOf(0, off);
  if (end < 0) end = b.length;
  return new TextDecoder().decode(b.subarray(off, end));
}

/** Reads a little-endian uint64 as a number (addresses and sizes fit in 2^53). */
function u64(v: DataView, off: number): number {
  return Number(v.getBigUint64(off, true));
}

async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let n = 0;
  while (n < length) {
    const got = await file.read(buf.subarray(n));
    if (got === null) break;
    n += got;
  }
  return buf.subarray(0, n);
}

function openError(path: string, err: unknown): TargetError {
  if (err instanceof Deno.errors.NotFound) {
    return new TargetError(
      "not-found",
      `Cannot open target ${path}: no such file; check the path, or build the program first.`,
      { cause: err },
    );
  }
  if (
    err instanceof Deno.errors.PermissionDenied ||
    err instanceof Deno.errors.NotCapable
  ) {
    return new TargetError(
      "access-denied",
      `Cannot open target ${path}: permission denied; ${
        // Another process's view of its file: a matter of who may inspect it.
        /^\/proc\/\d+\/(?:exe$|root\/)/.test(path)
          ? accessAdvice()
          : "run spanbridge as root or as a user who can read the file"}.`,
      { cause: err },
    );
  }
  if (err instanceof Deno.errors.IsADirectory) {
    return new TargetError(
      "not-elf",
      `Cannot use ${path} as a target: it is a directory; pass the path of a Go executable.`,
      { cause: err },
    );
  }
  return new TargetError(
    "not-found",
    `Cannot open target ${path}: ${
      err instanceof Error ? err.message : String(err)
    }.`,
    { cause: err },
  );
}
