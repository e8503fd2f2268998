/**
 * A reader of the Go runtime's function table (pclntab), which every Go
 * binary keeps even when stripped (`-ldflags='-s -w'`): it maps function
 * names to entry offsets from the start of the text (runtime.text).
 *
 * Layouts (see Go's src/internal/abi/symtab.go, runtime/symtab.go pcHeader,
 * cmd/link/internal/ld/pcln.go generatePCHeader):
 *
 * - Go 1.18 and 1.19 (magic 0xfffffff0) and Go 1.20+ (0xfffffff1) share one
 *   layout: magic u32, two zero bytes, min instruction size u8, pointer size
 *   u8, then pointer-sized words: nfunc, nfiles, textStart, and the offsets
 *   from the header of funcnametab, cutab, filetab, pctab and pclntable. The
 *   functab (at the pclntable offset) holds nfunc+1 pairs of u32 (entry
 *   offset from runtime.text, offset of the _func from pclntable); a _func
 *   starts with u32 entryOff and i32 nameOff (into funcnametab).
 * - Go 1.26 keeps the magic 0xfffffff1 but writes 0 in the textStart word
 *   (it required a relocation); the text start must come from elsewhere (see
 *   moduledata.ts).
 * - Go 1.2-1.17 (0xfffffffb, 0xfffffffa) used absolute entry PCs; those
 *   toolchains cannot build the SDK (its go.mod needs Go 1.22), so they are
 *   reported, not parsed.
 *
 * The table is streamed, never read whole (a 707 MB program has a 181 MiB
 * one): a search first reads funcnametab for the wanted names, then the
 * functab and the _func records, which the linker writes in the functab's
 * order, so each part is read once, front to back.
 *
 * @module
 */

import {
  bytesRange,
  chunkBytes,
  type ElfFile,
  type FileRange,
  findStrings,
  maxMatches,
  PF_W,
  PF_X,
  scan,
} from "./elf.ts";
import { TargetError } from "./errors.ts";

/** A function found in the pclntab. */
export interface PclnFunc {
  /** The function's name, as the linker recorded it (no ".abi0" suffix). */
  name: string;
  /** Its entry offset from the start of the text (runtime.text). */
  entryOffset: number;
}

/** A parsed pclntab header with access to its function table. */
export interface PclnTab {
  /** The magic number, 0xfffffff0 (Go 1.18/1.19) or 0xfffffff1 (Go 1.20+). */
  magic: number;
  /** The pointer size, 8 on 64-bit targets. */
  ptrSize: number;
  /** The number of functions. */
  nfunc: number;
  /** The textStart word: runtime.text up to Go 1.25, 0 since Go 1.26 (and 0 when unrelocated). */
  textStart: number;
  /** Offset of funcnametab from the header. */
  funcnameOffset: number;
  /**
   * Returns the functions named `name` (or, with `suffix`, whose name ends
   * with `name`). A name may appear twice: an assembly body and its Go
   * wrapper share one name in the pclntab.
   */
  find(name: string, suffix?: boolean): Promise<PclnFunc[]>;
}

const magic118 = 0xfffffff0;
const magic120 = 0xfffffff1;
const oldMagics = [0xfffffffb, 0xfffffffa];

/**
 * Parses the pclntab in `src` (which starts at the header): a range of the
 * file, or bytes. Throws a {@linkcode TargetError} of kind "unreadable"
 * naming `path` when the header is not a Go 1.18+ pclntab or its offsets
 * point outside `src`.
 */
export async function parsePclnTab(
  src: FileRange | Uint8Array,
  path: string,
): Promise<PclnTab> {
  const r = src instanceof Uint8Array ? bytesRange(src) : src;
  const fail = (why: string) =>
    new TargetError(
      "unreadable",
      `Cannot read the Go function table (pclntab) of ${path}: ${why}; rebuild the program without stripping it, or report this with its Go version.`,
    );
  const head = await r.read(0, 8 + 8 * 8);
  if (head.length < 8 + 8 * 8) {
    throw fail(`it is only ${r.size} bytes long`);
  }
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = v.getUint32(0, true);
  if (oldMagics.includes(magic)) {
    throw new TargetError(
      "unreadable",
      `Cannot use ${path} as a target: it was built with Go older than 1.18 (pclntab magic 0x${
        magic.toString(16)
      }), and spanbridge's SDK needs Go 1.22 or newer; rebuild it with a current Go.`,
    );
  }
  if (magic !== magic118 && magic !== magic120) {
    throw fail(
      `its magic number is 0x${
        magic.toString(16)
      }, not 0xfffffff0 or 0xfffffff1`,
    );
  }
  const ptrSize = head[7];
  if (head[4] !== 0 || head[5] !== 0 || ptrSize !== 8) {
    throw fail(
      `its header is not a 64-bit Go 1.18+ header (pointer size ${ptrSize})`,
    );
  }
  const word = (i: number) => Number(v.getBigUint64(8 + 8 * i, true));
  const nfunc = word(0);
  const textStart = word(2);
  const funcnameOffset = word(3);
  // funcnametab ends where cutab begins.
  const cuOffset = word(4);
  const pclnOffset = word(7);
  if (funcnameOffset >= r.size || pclnOffset >= r.size) {
    throw fail("its table offsets point past its end");
  }
  if (nfunc === 0 || pclnOffset + (2 * nfunc + 1) * 4 > r.size) {
    throw fail(
      `its function count ${nfunc} does not fit in its ${r.size} bytes`,
    );
  }
  const namesEnd = cuOffset > funcnameOffset && cuOffset <= r.size
    ? cuOffset
    : r.size;
  const names = sub(r, funcnameOffset, namesEnd - funcnameOffset);
  return {
    magic,
    ptrSize,
    nfunc,
    textStart,
    funcnameOffset,
    async find(name: string, suffix = false): Promise<PclnFunc[]> {
      const wanted = new Map<number, number>(); // name offset -> byte length
      for (const [at, s] of await findStrings(names, [name], path)) {
        if (suffix || s === name) wanted.set(at, s.length);
      }
      if (wanted.size === 0) return [];
      const hits: { nameOff: number; entryOffset: number }[] = [];
      // The _func records are read a chunk at a time, front to back. One
      // behind the current chunk means the table is not in the linker's
      // order: refused rather than read again and again (a crafted table
      // could make that cost a read per function).
      let start = 0;
      let records: DataView = new DataView(new ArrayBuffer(0));
      const tabBuf = new Uint8Array(chunkBytes);
      const recordBuf = new Uint8Array(chunkBytes);
      for (let at = 0; at < nfunc * 8; at += chunkBytes) {
        const tab = await r.read(
          pclnOffset + at,
          Math.min(chunkBytes, nfunc * 8 - at),
          tabBuf,
        );
        const t = new DataView(tab.buffer, tab.byteOffset, tab.byteLength);
        for (let off = 0; off + 8 <= tab.length; off += 8) {
          const i = (at + off) / 8;
          const funcOff = pclnOffset + t.getUint32(off + 4, true);
          if (funcOff < start) throw fail(`function ${i} is out of order`);
          if (funcOff + 8 > start + records.byteLength) {
            if (funcOff + 8 > r.size) {
              throw fail(`function ${i} lies past its end`);
            }
            start = funcOff;
            const b = await r.read(funcOff, chunkBytes, recordBuf);
            records = new DataView(b.buffer, b.byteOffset, b.byteLength);
          }
          const nameOff = records.getInt32(funcOff - start + 4, true);
          if (wanted.has(nameOff)) {
            hits.push({
              nameOff,
              entryOffset: records.getUint32(funcOff - start, true),
            });
            if (hits.length > maxMatches) {
              throw fail(`more than ${maxMatches} functions are named ${name}`);
            }
          }
        }
      }
      const utf8 = new TextDecoder();
      const out: PclnFunc[] = [];
      for (const { nameOff, entryOffset } of hits) {
        const bytes = await names.read(nameOff, wanted.get(nameOff)!);
        out.push({ name: utf8.decode(bytes), entryOffset });
      }
      return out;
    },
  };
}

/** The part of `r` of `size` bytes at `offset` (both inside `r`). */
function sub(r: FileRange, offset: number, size: number): FileRange {
  return {
    offset: r.offset + offset,
    size,
    read: (at, length, buf) =>
      r.read(offset + at, Math.min(length, size - at), buf),
  };
}

/** Where a pclntab lives in the file. */
export interface PclnLocation {
  /** The virtual address of the pclntab header. */
  addr: number;
  /**
   * The pclntab, from the header to the end of its section or segment, to
   * stream. Nothing is read until it is parsed: with a symbol table, never.
   */
  range: FileRange;
}

/**
 * Finds the pclntab of `elf`: the .gopclntab section (.data.rel.ro.gopclntab
 * in some PIE builds), or, when the file has no section headers, a valid
 * header found by its magic in the read-only segments. Returns undefined when
 * there is none (not a Go binary).
 */
export async function locatePclnTab(
  elf: ElfFile,
): Promise<PclnLocation | undefined> {
  const sect = elf.section(".gopclntab") ??
    elf.section(".data.rel.ro.gopclntab");
  if (sect !== undefined) {
    return { addr: sect.addr, range: elf.sectionRange(sect) };
  }
  if (elf.sections.length > 0) return undefined;
  // No section headers: scan read-only data first (where Go's linker puts
  // the table), then everything else.
  const loads = elf.loads().sort((a, b) => rank(a.flags) - rank(b.flags));
  for (const seg of loads) {
    const r = elf.segmentRange(seg);
    for await (const at of scan(r, 8, 8, looksLikeHeader)) {
      const candidate = elf.range("pclntab", r.offset + at, r.size - at);
      try {
        await parsePclnTab(candidate, elf.path);
        return { addr: seg.vaddr + at, range: candidate };
      } catch {
        // Not a real header, only the same bytes: keep scanning.
      }
    }
  }
  return undefined;
}

function rank(flags: number): number {
  return (flags & PF_X ? 2 : 0) + (flags & PF_W ? 1 : 0);
}

function looksLikeHeader(d: Uint8Array, i: number): boolean {
  return (d[i] === 0xf1 || d[i] === 0xf0) && d[i + 1] === 0xff &&
    d[i + 2] === 0xff &&
    d[i + 3] === 0xff && d[i + 4] === 0 && d[i + 5] === 0 &&
    (d[i + 6] === 1 || d[i + 6] === 4) && d[i + 7] === 8;
}
