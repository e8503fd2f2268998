/**
 * The symbol-offset oracle: where a symbol of an ELF executable lies, found
 * with the toolchain's own tools and none of src/process, so that tests can
 * hold the controller's ELF and pclntab reading against it.
 *
 * One rule: the address is the one `go tool nm` prints for the symbol, and its
 * file offset is `address - vaddr + offset` of the executable LOAD segment
 * (`readelf -lW`) whose bytes in the file hold that address. A segment's
 * memory size is not used: bytes past its file size (zero-filled data) have
 * no file offset, and a uprobe can only be placed on bytes of the file.
 *
 * @module
 */

import { run } from "./go_binaries.ts";

/** The address `go tool nm` gives for `symbol` in the executable at `path`. */
export async function symbolAddress(
  path: string,
  symbol: string,
): Promise<number> {
  const line = (await run(["go", "tool", "nm", path])).split("\n")
    .find((l) => l.trim().split(/\s+/)[2] === symbol);
  if (line === undefined) {
    throw new Error(`go tool nm ${path}: no symbol ${symbol}`);
  }
  return parseInt(line.trim().split(/\s+/)[0], 16);
}

/** The file offset of `symbol` in the executable at `path` (see the module doc for the rule). */
export async function symbolFileOffset(
  path: string,
  symbol: string,
): Promise<number> {
  const addr = await symbolAddress(path, symbol);
  for (const l of (await run(["readelf", "-lW", path])).split("\n")) {
    const f = l.trim().split(/\s+/);
    if (f[0] !== "LOAD" || !f.slice(6).includes("E")) continue;
    const [off, vaddr, , filesz] = f.slice(1, 5).map((x) => parseInt(x, 16));
    if (addr >= vaddr && addr < vaddr + filesz) return addr - vaddr + off;
  }
  throw new Error(
    `readelf -lW ${path}: no executable LOAD segment holds ${symbol} in the file (0x${
      addr.toString(16)
    })`,
  );
}
