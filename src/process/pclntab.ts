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
 * @module
 */

import { type ElfFile, PF_W, PF_X } from "./elf.ts";
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
  find(name: string, suffix?: boolean): PclnFunc[];
}

const magic118 = 0xfffffff0;
const magic120 = 0xfffffff1;
const oldMagics = [0xfffffffb, 0xfffffffa];

/**
 * Parses the pclntab in `data` (which starts at the header). Throws a
 * {@linkcode TargetError} of kind "unreadable" naming `path` when the header
 * is not a Go 1.18+ pclntab or its offsets point outside `data`.
 */
export function parsePclnTab(data: Uint8Array, path: string): PclnTab {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const fail = (why: string) =>
    new TargetError(
      "unreadable",
      `Cannot read the Go function table (pclntab) of ${path}: ${why}; rebuild the program without stripping it, or report this with its Go version.`,
    );
  if (data.length < 8 + 8 * 8) {
    throw fail(`it is only ${data.length} bytes long`);
  }
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
  const ptrSize = data[7];
  if (data[4] !== 0 || data[5] !== 0 || ptrSize !== 8) {
    throw fail(
      `its header is not a 64-bit Go 1.18+ header (pointer size ${ptrSize})`,
    );
  }
  const word = (i: number) => Number(v.getBigUint64(8 + 8 * i, true));
  const nfunc = word(0);
  const textStart = word(2);
  const funcnameOffset = word(3);
  const pclnOffset = word(7);
  if (funcnameOffset >= data.length || pclnOffset >= data.length) {
    throw fail("its table offsets point past its end");
  }
  if (nfunc === 0 || pclnOffset + (2 * nfunc + 1) * 4 > data.length) {
    throw fail(
      `its function count ${nfunc} does not fit in its ${data.length} bytes`,
    );
  }
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder();
  const nameAt = (off: number) => {
    const start = funcnameOffset + off;
    let end = data.indexOf(0, start);
    if (end < 0) end = data.length;
    return data.subarray(start, end);
  };
  return {
    magic,
    ptrSize,
    nfunc,
    textStart,
    funcnameOffset,
    find(name: string, suffix = false): PclnFunc[] {
      const out: PclnFunc[] = [];
      for (let i = 0; i < nfunc; i++) {
        const funcOff = pclnOffset + v.getUint32(pclnOffset + 8 * i + 4, true);
        if (funcOff + 8 > data.length) {
          throw fail(`function ${i} lies past its end`);
        }
        const bytes = nameAt(v.getInt32(funcOff + 4, true));
        // Names are compared as latin1 (one char per byte) and decoded as
        // UTF-8 only when they match: the names looked for are ASCII.
        const s = latin1.decode(bytes);
        if (suffix ? !s.endsWith(name) : s !== name) continue;
        out.push({
          name: utf8.decode(bytes),
          entryOffset: v.getUint32(funcOff, true),
        });
      }
      return out;
    },
  };
}

/** Where a pclntab lives in the file, and its bytes. */
export interface PclnLocation {
  /** The virtual address of the pclntab header. */
  addr: number;
  /**
   * Reads the pclntab bytes, from the header to the end of its section or
   * segment. Reading is deferred: with a symbol table it is never needed.
   */
  read(): Promise<Uint8Array>;
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
    return { addr: sect.addr, read: () => elf.readSection(sect) };
  }
  if (elf.sections.length > 0) return undefined;
  // No section headers: scan read-only data first (where Go's linker puts
  // the table), then everything else.
  const loads = elf.loads().sort((a, b) => rank(a.flags) - rank(b.flags));
  for (const seg of loads) {
    const data = await elf.read(seg.offset, seg.filesz);
    for (let i = 0; i + 16 <= data.length; i += 8) {
      if (!looksLikeHeader(data, i)) continue;
      const candidate = data.subarray(i);
      try {
        parsePclnTab(candidate, elf.path);
        return { addr: seg.vaddr + i, read: () => Promise.resolve(candidate) };
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
