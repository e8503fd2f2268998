/**
 * Byte sizes on the command line: "65536", "64K", "32M", "1G" (powers of 1024).
 *
 * @module
 */
import { UsageError } from "../errors.ts";

const units: Record<string, number> = {
  "": 1,
  K: 1 << 10,
  M: 1 << 20,
  G: 1 << 30,
};

/** Parses a size such as "32M"; `what` names the setting in the error message. */
export function parseSize(text: string, what: string): number {
  const m = /^([0-9]+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `Invalid ${what} "${text}": expected a number of bytes, optionally with K, M or G.`,
    );
  }
  return Number(m[1]) * units[m[2].toUpperCase()];
}
