/**
 * A reader of 64-bit little-endian ELF executables (x86_64 and aarch64): the
 * program headers, the section headers, the symbol table, and the mapping of a
 * virtual address to a file offset, which is what a uprobe needs.
 *
 * Only the headers are read up front; section contents are read on demand,
 * so a 100 MB binary costs a few small reads. Every read is bounded by what
 * it can cost, since `--all` reads whatever any user executes: no range is
 * read past the file's real size (the headers may claim anything), small
 * tables are refused beyond {@linkcode maxTableBytes}, and large regions
 * (symbol tables, the pclntab, segments) are streamed in
 * {@linkcode chunkBytes} pieces and refused beyond {@linkcode maxScanBytes},
 * as is a file that would need more than {@linkcode maxFileReadBytes} in all.
 *
 * @module
 */

import { constants, type Stats } from "node:fs";
import { type FileHandle, open, stat as statPath } from "node:fs/promises";
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

/**
 * The most bytes read at once for a table parsed whole: the program and
 * section headers, the section names, a note, the build info. A Go binary's
 * are tiny (a dozen program headers of 56 bytes, ~40 section headers of 64,
 * ~400 bytes of names, build info of 36 KiB for a 707 MB program with ~600
 * modules), so 1 MiB is ample; a crafted binary claiming more is refused.
 */
export const maxTableBytes = 1 << 20;

/**
 * The most bytes streamed from one region: a symbol table, a string table,
 * the pclntab, a segment searched for a header. Streaming keeps memory at a
 * chunk whatever the size, so this bounds time only: the largest Go binary
 * seen (terraform-provider-aws 5.100, 707 MB) has a 400 MB text segment and
 * a 181 MiB pclntab; 1 GiB more than covers that.
 */
export const maxScanBytes = 1 << 30;

/**
 * The most bytes read from one file in all, past its headers: a bound on
 * time (a few seconds) when every region is within its own bounds.
 * Resolving the 707 MB binary above reads ~150 MB.
 */
export const maxFileReadBytes = 2 ** 30;

/**
 * The size of one streamed piece: large enough that a 200 MB binary costs a
 * few hundred reads, small enough to be nothing next to the agent's memory.
 */
export const chunkBytes = 1 << 20;

/**
 * The size of one piece of a string table decoded at once (a chunk is read,
 * then decoded piece by piece). Strings from it
 * stay in V8's young generation, which every minor collection frees; larger
 * ones go to the large-object space, which only a full collection frees:
 * decoding 1 MiB pieces of a 181 MiB pclntab's names raised the peak by
 * ~90 MB.
 */
const stringChunkBytes = 64 << 10;

/**
 * A range of an ELF file checked against the file's size and a maximum,
 * read whole or in chunks. Offsets passed to it are relative to its start.
 */
export interface FileRange {
  /** Where the range starts in the file. */
  readonly offset: number;
  /** Its length in bytes (within the file). */
  readonly size: number;
  /**
   * Reads `length` bytes at `offset` from the range's start: fewer at its
   * end, and at most two chunks; into `buf` when given (and at most its
   * length), which a stream reuses so that it leaves no garbage behind.
   */
  read(offset: number, length: number, buf?: Uint8Array): Promise<Uint8Array>;
}

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
  /** The file's identity and size, taken from the open file. */
  readonly stat: FileStat;
  /** The CPU architecture. */
  readonly arch: Arch;
  /** e_type: 2 = EXEC, 3 = DYN (PIE). */
  readonly type: number;
  /** All program headers. */
  readonly segments: ElfSegment[];
  /** All section headers (empty when the file has none). */
  readonly sections: ElfSection[];
  #file: FileHandle;
  #budget = maxFileReadBytes;

  private constructor(
    path: string,
    file: FileHandle,
    stat: FileStat,
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
   * when the file is missing, unreadable, not a regular file, not ELF, not a
   * 64-bit little-endian x86_64/aarch64 file, or when its headers claim more
   * than the file holds or than {@linkcode maxTableBytes}. With `expect`,
   * a file of another device or inode (a process that executed another
   * program meanwhile) is refused as "not-found" before it is read, so that
   * no verdict on it is taken for the expected file.
   */
  static async open(
    path: string,
    expect?: { dev: number; ino: number },
  ): Promise<ElfFile> {
    let file: FileHandle;
    try {
      // Only a regular file is opened: opening a device may act on it.
      refuseIrregular(path, await statPath(path));
      // O_NONBLOCK: opening a FIFO to read waits for a writer, forever and
      // past every signal. Should the path become one after the check, the
      // open returns at once and the check below, on the open file, refuses
      // it. A regular file ignores the flag.
      file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw err instanceof TargetError ? err : openError(path, err);
    }
    try {
      const st = await file.stat();
      if (expect && (st.dev !== expect.dev || st.ino !== expect.ino)) {
        throw new TargetError(
          "not-found",
          `Cannot read ${path}: it is no longer the file expected (device ${expect.dev}, inode ${expect.ino}); the process executed another program.`,
        );
      }
      refuseIrregular(path, st);
      const stat: FileStat = {
        dev: st.dev,
        ino: st.ino,
        size: st.size,
        mtime: st.mtime,
        ctime: st.ctime,
      };
      const ident = await readAt(file, 0, Math.min(64, stat.size));
      const header = parseHeader(path, ident);
      const range = (what: string, offset: number, size: number) =>
        checkRange(path, stat.size, what, offset, size, maxTableBytes);
      const phdrs = range(
        "program header table",
        header.phoff,
        header.phnum * header.phentsize,
      );
      const segments = parseSegments(
        await readAt(file, phdrs.offset, phdrs.size),
        header.phnum,
        header.phentsize,
      );
      const sections = await readSections(file, header, range);
      return new ElfFile(path, file, stat, header, segments, sections);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  /** Closes the file. */
  close(): void {
    this.#file.close().catch(() => {});
  }

  /**
   * Reads `length` bytes at file offset `offset` (fewer at end of file),
   * refusing more than {@linkcode maxTableBytes}: for larger regions use
   * {@linkcode ElfFile.range} and read it in chunks.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const r = checkRange(
      this.path,
      this.stat.size,
      "code or data",
      offset,
      Math.max(0, Math.min(length, this.stat.size - offset)),
      maxTableBytes,
    );
    return await this.#readAt(r.offset, r.size);
  }

  /**
   * Returns the range of `size` bytes at file offset `offset`, which the
   * headers call `what` (for error messages), after checking that it lies
   * inside the file and within `max` bytes. Throws a
   * {@linkcode TargetError} otherwise.
   */
  range(
    what: string,
    offset: number,
    size: number,
    max = maxScanBytes,
  ): FileRange {
    const r = checkRange(this.path, this.stat.size, what, offset, size, max);
    return {
      offset: r.offset,
      size: r.size,
      read: (at, length, buf) =>
        this.#readAt(
          r.offset + at,
          Math.max(0, Math.min(length, r.size - at, 2 * chunkBytes)),
          buf,
        ),
    };
  }

  /**
   * Reads within the file's budget: each region is bounded, but a crafted
   * file may list thousands of segments over one region, each scanned in
   * turn.
   */
  #readAt(
    offset: number,
    length: number,
    buf?: Uint8Array,
  ): Promise<Uint8Array> {
    this.#budget -= length;
    if (this.#budget < 0) {
      throw new TargetError(
        "too-large",
        `Cannot read ${this.path}: finding its probe point would read more than ${maxFileReadBytes} bytes; a Go program needs far fewer, so the file is damaged or crafted.`,
      );
    }
    return readAt(this.#file, offset, length, buf);
  }

  /** Returns the first section called `name`, if any. */
  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /**
   * Reads a small section's contents whole (empty for NOBITS sections),
   * refusing one larger than {@linkcode maxTableBytes}.
   */
  async readSection(s: ElfSection): Promise<Uint8Array> {
    const r = this.sectionRange(s, maxTableBytes);
    return await r.read(0, r.size);
  }

  /**
   * Returns a section's contents as a range to stream (empty for NOBITS
   * sections), refusing one larger than `max`.
   */
  sectionRange(s: ElfSection, max = maxScanBytes): FileRange {
    // A NOBITS section has no bytes in the file, whatever its offset says.
    if (s.type === SHT_NOBITS) return bytesRange(new Uint8Array());
    return this.range(
      `section ${s.name || "(unnamed)"}`,
      s.offset,
      s.size,
      max,
    );
  }

  /** A segment's file-backed part as a range to stream. */
  segmentRange(p: ElfSegment): FileRange {
    return this.range(
      `segment at 0x${p.vaddr.toString(16)}`,
      p.offset,
      p.filesz,
    );
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
   * Returns the function symbols of .symtab whose name ends with one of
   * `suffixes` (a whole name is its own suffix), or undefined when the file
   * has no symbol table (a stripped binary). Both tables are streamed: the
   * string table first, to learn where the matching names start, then the
   * symbols, keeping those that point at one. (A symbol naming the tail of
   * another's string is not seen: linkers share a tail only when it is a
   * whole name too, and the names looked for are.) Throws a
   * {@linkcode TargetError} past {@linkcode maxMatches} matches.
   */
  async functionSymbols(
    suffixes: string[],
  ): Promise<ElfSymbol[] | undefined> {
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    if (symtab === undefined) return undefined;
    const strtab = this.sections[symtab.link];
    if (strtab === undefined) return undefined;
    const strings = this.sectionRange(strtab);
    const names = await findStrings(strings, suffixes, this.path);
    const found: { at: number; length: number; value: number; size: number }[] =
      [];
    if (names.size === 0) return [];
    let crowded = false;
    await eachChunk(this.sectionRange(symtab), 24, (syms) => {
      const view = new DataView(syms.buffer, syms.byteOffset, syms.byteLength);
      for (let off = 0; off + 24 <= syms.length; off += 24) {
        if ((syms[off + 4] & 0xf) !== STT_FUNC) continue;
        const at = view.getUint32(off, true);
        const name = names.get(at);
        if (name === undefined) continue;
        found.push({
          at,
          length: name.length,
          value: u64(view, off + 8),
          size: u64(view, off + 16),
        });
        if (found.length > maxMatches) return crowded = true;
      }
    });
    if (crowded) {
      throw new TargetError(
        "too-large",
        `Cannot read ${this.path}: more than ${maxMatches} function symbols are named ${
          [...new Set(names.values())].slice(0, 3).join(", ")
        }; the file is damaged or crafted.`,
      );
    }
    const utf8 = new TextDecoder();
    const out: ElfSymbol[] = [];
    for (const { at, length, value, size } of found) {
      out.push({
        name: utf8.decode(await strings.read(at, length)),
        value,
        size,
      });
    }
    return out;
  }
}

/**
 * Calls `each` with the chunks of `r` in order, each a whole number of
 * `unit` bytes (a table's entry size) except maybe the last.
 */
async function eachChunk(
  r: FileRange,
  unit: number,
  each: (data: Uint8Array, at: number) => void | boolean,
): Promise<void> {
  const step = chunkBytes - chunkBytes % unit;
  const buf = new Uint8Array(step);
  for (let at = 0; at < r.size; at += step) {
    const data = await r.read(at, step, buf);
    if (data.length === 0 || each(data, at) === true) return;
  }
}

/**
 * Yields the offsets in `r` (multiples of `stride`) where `match` holds for
 * the chunk `data` at index `i`, with at least `need` bytes from `i` on in
 * `data`: a search for a header of `need` bytes, streamed.
 */
export async function* scan(
  r: FileRange,
  stride: number,
  need: number,
  match: (data: Uint8Array, i: number) => boolean,
): AsyncGenerator<number> {
  // Chunks overlap by `need` bytes so that no candidate straddles two.
  const buf = new Uint8Array(chunkBytes + need);
  for (let at = 0; at < r.size; at += chunkBytes) {
    const data = await r.read(at, chunkBytes + need, buf);
    for (let i = 0; i < chunkBytes && i + need <= data.length; i += stride) {
      if (match(data, i)) yield at + i;
    }
  }
}

/**
 * The most strings (or symbols, or functions) one search may match: the
 * probe point's name matches once or twice (body and ABI wrapper); a table
 * crafted to match millions of times is refused instead of remembered.
 */
export const maxMatches = 64;

/**
 * The longest name {@linkcode findStrings} sees. The names looked for are a
 * module path and a function (~100 bytes); capping the unterminated tail
 * carried from piece to piece keeps each searched string under V8's
 * large-object size (128 KiB), so a table with no NUL costs no memory.
 */
export const maxNameBytes = 16 << 10;

/**
 * Returns the NUL-terminated strings of `r` (a string table) that end with
 * one of `suffixes`, by their offset in `r`, decoded one char per byte (the
 * names looked for are ASCII; read a match's bytes again to decode it as
 * UTF-8). The search is the engine's native substring search over pieces of
 * the table, so its time does not depend on what the table holds; a string
 * longer than {@linkcode maxNameBytes} is not seen. Throws a {@linkcode TargetError} naming
 * `path` past {@linkcode maxMatches} matches.
 */
export async function findStrings(
  r: FileRange,
  suffixes: string[],
  path: string,
): Promise<Map<number, string>> {
  const bytewise = new TextDecoder("latin1");
  const buf = new Uint8Array(chunkBytes);
  const found = new Map<number, string>();
  const ends = suffixes.map((s) => s + "\0");
  let tail = ""; // the unterminated end of the pieces read so far
  let tailAt = 0; // its offset in r
  let cut = false; // the tail was dropped: its string is not seen
  for (let at = 0; at < r.size;) {
    const data = await r.read(at, chunkBytes, buf);
    if (data.length === 0) break;
    for (let p = 0; p < data.length; p += stringChunkBytes) {
      const text = tail +
        bytewise.decode(data.subarray(p, p + stringChunkBytes));
      for (const end of ends) {
        // A match ends in the new piece: the tail holds no NUL.
        for (
          let i = text.indexOf(end, Math.max(0, tail.length - end.length));
          i >= 0;
          i = text.indexOf(end, i + 1)
        ) {
          const start = text.lastIndexOf("\0", i - 1) + 1;
          if ((start === 0 && cut) || i - start > maxNameBytes) continue;
          found.set(tailAt + start, text.slice(start, i + end.length - 1));
          if (found.size > maxMatches) {
            throw new TargetError(
              "too-large",
              `Cannot read ${path}: more than ${maxMatches} names in its string table end in ${
                suffixes.join(" or ")
              }; the file is damaged or crafted.`,
            );
          }
        }
      }
      const lastNul = text.lastIndexOf("\0");
      if (lastNul >= 0) {
        [tail, tailAt, cut] = [
          text.slice(lastNul + 1),
          tailAt + lastNul + 1,
          false,
        ];
      } else tail = text;
      if (tail.length > maxNameBytes) {
        [tail, tailAt, cut] = ["", tailAt + tail.length, true];
      }
    }
    at += data.length;
  }
  return found;
}

/** Bytes already in memory, as a range (tests, and tables given as bytes). */
export function bytesRange(data: Uint8Array): FileRange {
  return {
    offset: 0,
    size: data.length,
    read: (at, length, buf) => {
      const part = data.subarray(at, Math.min(data.length, at + length));
      if (buf === undefined) return Promise.resolve(part);
      buf.set(part.subarray(0, buf.length));
      return Promise.resolve(
        buf.subarray(0, Math.min(part.length, buf.length)),
      );
    },
  };
}

/** The identity and size of an opened file. */
export interface FileStat {
  /** The device. */
  dev: number;
  /** The inode. */
  ino: number;
  /** The real size in bytes. */
  size: number;
  /** The modification time. */
  mtime: Date | null;
  /** The status change time. */
  ctime: Date | null;
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

type CheckRange = (what: string, offset: number, size: number) => {
  offset: number;
  size: number;
};

async function readSections(
  file: FileHandle,
  h: Header,
  range: CheckRange,
): Promise<ElfSection[]> {
  if (h.shoff === 0 || h.shentsize < 64) return [];
  let { shnum, shstrndx } = h;
  if (shnum === 0 || shstrndx === 0xffff) {
    // Extended numbering: the real values live in section header 0.
    const first = range("section header table", h.shoff, 64);
    const b0 = await readAt(file, first.offset, first.size);
    const v0 = new DataView(b0.buffer, b0.byteOffset, 64);
    if (shnum === 0) shnum = u64(v0, 32);
    if (shstrndx === 0xffff) shstrndx = v0.getUint32(40, true);
  }
  const table = range("section header table", h.shoff, shnum * h.shentsize);
  const b = await readAt(file, table.offset, table.size);
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
  let names: Uint8Array = new Uint8Array();
  if (strs !== undefined) {
    const r = range("section name table", strs.offset, strs.size);
    names = await readAt(file, r.offset, r.size);
  }
  return raw.map(({ nameOff, ...s }) => ({
    name: cString(names, nameOff),
    ...s,
  }));
}

/**
 * Checks that `size` bytes at `offset`, which the headers of `path` call
 * `what`, lie inside the file's real size and within `max` bytes; throws a
 * {@linkcode TargetError} naming the claim otherwise.
 */
function checkRange(
  path: string,
  fileSize: number,
  what: string,
  offset: number,
  size: number,
  max: number,
): { offset: number; size: number } {
  if (offset > fileSize || size > fileSize - offset) {
    throw new TargetError(
      "unreadable",
      `Cannot read ${path}: its ${what} claims ${size} bytes at offset ${offset}, past the end of the ${fileSize}-byte file; the file is damaged or crafted.`,
    );
  }
  if (size > max) {
    throw new TargetError(
      "too-large",
      `Cannot read ${path}: its ${what} claims ${size} bytes, over the ${max}-byte limit spanbridge reads for it; a Go program's is far smaller, so the file is damaged or crafted.`,
    );
  }
  return { offset, size };
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
  file: FileHandle,
  offset: number,
  length: number,
  into?: Uint8Array,
): Promise<Uint8Array> {
  // Positioned reads (pread): concurrent reads of one file do not mix.
  const buf = into ?? new Uint8Array(length);
  length = Math.min(length, buf.length);
  let n = 0;
  while (n < length) {
    const { bytesRead } = await file.read(buf, n, length - n, offset + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/** Throws a {@linkcode TargetError} saying what `path` is unless it is a regular file. */
function refuseIrregular(path: string, st: Stats): void {
  if (st.isFile()) return;
  const kind = st.isDirectory()
    ? "a directory"
    : st.isFIFO()
    ? "a FIFO (named pipe)"
    : st.isSocket()
    ? "a socket"
    : st.isCharacterDevice() || st.isBlockDevice()
    ? "a device"
    : "not a file";
  throw new TargetError(
    "not-elf",
    `Cannot use ${path} as a target: it is ${kind}, not a regular file; pass the path of a Go executable.`,
  );
}

function openError(path: string, err: unknown): TargetError {
  // node:fs errors carry the errno name in `code`.
  const code = (err as { code?: string } | undefined)?.code;
  if (
    err instanceof Deno.errors.NotFound || code === "ENOENT" ||
    code === "ENOTDIR"
  ) {
    return new TargetError(
      "not-found",
      `Cannot open target ${path}: no such file; check the path, or build the program first.`,
      { cause: err },
    );
  }
  if (
    err instanceof Deno.errors.PermissionDenied ||
    err instanceof Deno.errors.NotCapable || code === "EACCES" ||
    code === "EPERM"
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
  return new TargetError(
    "not-found",
    `Cannot open target ${path}: ${
      err instanceof Error ? err.message : String(err)
    }.`,
    { cause: err },
  );
}
