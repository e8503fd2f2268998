/**
 * Finds the start of a Go binary's text (runtime.text), which pclntab entry
 * offsets are relative to, without a symbol table.
 *
 * The pclntab header stopped carrying it in Go 1.26, and the .text section's
 * address is not it either when the program was linked externally (cgo: the
 * C start-up code comes first). The runtime's own source is the module data
 * (runtime.firstmoduledata), whose layout has been stable since Go 1.16:
 * word 0 is the pclntab header's address, words 1-3 the funcnametab slice,
 * and word 22 `text` (after the cutab, filetab, pctab, pclntable and ftab
 * slices, findfunctab, minpc and maxpc). The linker writes these words into
 * the file even for PIE binaries (the dynamic relocations repeat them).
 *
 * @module
 */

import { type ElfFile, PF_W, PF_X, scan } from "./elf.ts";
import type { PclnLocation, PclnTab } from "./pclntab.ts";

const textWord = 22;

/**
 * Returns runtime.text of `elf` given its pclntab: from the module data when
 * it is found, else from the pclntab header (Go 1.18-1.25). Undefined when
 * neither gives an address inside an executable segment.
 */
export async function findTextStart(
  elf: ElfFile,
  pcln: PclnLocation,
  tab: PclnTab,
): Promise<number | undefined> {
  const inText = (addr: number) => elf.fileOffset(addr, true) !== undefined;
  const header = pcln.addr;
  const names = pcln.addr + tab.funcnameOffset;
  const word = (d: Uint8Array, i: number) =>
    Number(new DataView(d.buffer, d.byteOffset + i, 8).getBigUint64(0, true));
  for (const seg of elf.loads()) {
    if ((seg.flags & PF_W) === 0 || (seg.flags & PF_X) !== 0) continue;
    const r = elf.segmentRange(seg);
    // Module data is pointer-aligned; its address is not known, so look
    // for the pair (pclntab header, funcnametab) it starts with.
    const starts = (d: Uint8Array, i: number) =>
      // Compare the low half first: cheap, and almost always different.
      (d[i] | d[i + 1] << 8 | d[i + 2] << 16 | d[i + 3] << 24) >>> 0 ===
        header % 2 ** 32 && word(d, i) === header && word(d, i + 8) === names;
    for await (const at of scan(r, 8, (textWord + 1) * 8, starts)) {
      const text = word(await r.read(at + textWord * 8, 8), 0);
      if (inText(text)) return text;
    }
  }
  return tab.textStart !== 0 && inText(tab.textStart)
    ? tab.textStart
    : undefined;
}
