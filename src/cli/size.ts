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

/**
 * A byte count as {@linkcode parseSize} reads it, in the largest unit that
 * divides it ("64K", "16M", "1G"): how help text shows a default.
 */
export function formatSize(bytes: number): string {
  for (const unit of ["G", "M", "K"]) {
    if (bytes >= units[unit] && bytes % units[unit] === 0) {
      return `${bytes / units[unit]}${unit}`;
    }
  }
  return `${bytes}`;
}
