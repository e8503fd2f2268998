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

import { type ElfFile, PF_W, PF_X } from "./elf.ts";
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
  const word = (v: DataView, i: number) => Number(v.getBigUint64(i, true));
  for (const seg of elf.loads()) {
    if ((seg.flags & PF_W) === 0 || (seg.flags & PF_X) !== 0) continue;
    const data = await elf.read(seg.offset, seg.filesz);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    // Module data is pointer-aligned; its address is not known, so look
    // for the pair (pclntab header, funcnametab) it starts with.
    for (let i = 0; i + (textWord + 1) * 8 <= data.length; i += 8) {
      // Compare the low half first: cheap, and almost always different.
      if (v.getUint32(i, true) !== header % 2 ** 32) continue;
      if (word(v, i) !== header || word(v, i + 8) !== names) continue;
      const text = word(v, i + textWord * 8);
      if (inText(text)) return text;
    }
  }
  return tab.textStart !== 0 && inText(tab.textStart)
    ? tab.textStart
    : undefined;
}
