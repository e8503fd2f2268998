/**
 * The contract tests' reading of a C header in bpf/: its numeric #defines and
 * its structs laid out as C does on the supported targets (x86_64, arm64:
 * each field at the next multiple of its alignment, a struct as long as a
 * multiple of its largest alignment). Only the declarations the headers use
 * are known (`__u8`…`__u64`, `__s8`…`__s64`, `char`, a struct of the same
 * header, arrays of them); any other declaration throws, so a new kind of
 * field fails the contract tests instead of shifting the offsets after it.
 *
 * @module
 */

import type { StructLayout } from "../src/wire/mod.ts";

/** A struct as C lays it out: size, alignment and each field's offset. */
export interface CStruct {
  /** sizeof(struct). */
  size: number;
  /** _Alignof(struct). */
  align: number;
  /** Byte offset of each field. */
  offsets: Record<string, number>;
}

/** A C header's text with its comments removed, and the name tests show. */
export class CHeader {
  readonly #text: string;

  /**
   * `text` is the header's content; `name` (e.g. "bpf/exec.h") is what
   * errors say.
   */
  constructor(readonly name: string, text: string) {
    this.#text = text.replace(/\/\*[\s\S]*?\*\//g, " ");
  }

  /** Reads `path` (from the repository root, e.g. "bpf/ended.h"). */
  static read(path: string): CHeader {
    const url = new URL(`../${path}`, import.meta.url);
    return new CHeader(path, Deno.readTextFileSync(url));
  }

  /**
   * The value of `#define name <number>[u]` or `#define name (<number>[u] << <n>)`.
   */
  define(name: string): number {
    const m = new RegExp(
      `#define ${name}\\s+\\(?(0x[0-9a-f]+|\\d+)u?(?:\\s*<<\\s*(\\d+))?\\)?\\s*$`,
      "m",
    ).exec(this.#text);
    if (!m) {
      throw new Error(`Cannot find #define ${name} <number> in ${this.name}`);
    }
    return Number(m[1]) * 2 ** Number(m[2] ?? 0);
  }

  /** `struct name`'s size and offsets, to compare with {@linkcode plain}. */
  layout(name: string): StructLayout<string> {
    const { size, offsets } = this.struct(name);
    return { size, offsets };
  }

  /** `struct name` laid out as C does (see the module doc). */
  struct(name: string): CStruct {
    const body = new RegExp(`struct ${name}\\s*\\{([^}]*)\\}`).exec(
      this.#text,
    )?.[1];
    if (body === undefined) {
      throw new Error(`Cannot find struct ${name} in ${this.name}`);
    }
    const offsets: Record<string, number> = {};
    let offset = 0;
    let align = 1;
    for (const decl of body.split(";").map((d) => d.trim()).filter(Boolean)) {
      const m = /^(struct\s+\w+|\w+)\s+(\w+)(?:\s*\[\s*(\w+)\s*\])?$/.exec(
        decl,
      );
      if (!m) {
        throw new Error(
          `Cannot lay out "${decl}" in struct ${name} of ${this.name}`,
        );
      }
      const [, type, field, count] = m;
      const elem = this.#typeOf(type, `${name}.${field}`);
      const n = count === undefined
        ? 1
        : /^\d+$/.test(count)
        ? Number(count)
        : this.define(count);
      offset = Math.ceil(offset / elem.align) * elem.align;
      offsets[field] = offset;
      offset += elem.size * n;
      align = Math.max(align, elem.align);
    }
    return { size: Math.ceil(offset / align) * align, align, offsets };
  }

  #typeOf(type: string, where: string): { size: number; align: number } {
    const scalar = /^(?:__[us](8|16|32|64)|(char))$/.exec(type);
    if (scalar) {
      const size = scalar[2] ? 1 : Number(scalar[1]) / 8;
      return { size, align: size };
    }
    const nested = /^struct\s+(\w+)$/.exec(type)?.[1];
    if (nested) return this.struct(nested);
    throw new Error(
      `Cannot lay out type ${type} (${where}) of ${this.name}: the contract tests know __u8…__u64, __s8…__s64, char and structs of the header`,
    );
  }
}

/** `l` as a plain object, which deepStrictEqual compares with a parsed one. */
export function plain<F extends string>(
  l: StructLayout<F>,
): StructLayout<string> {
  return { size: l.size, offsets: { ...l.offsets } };
}
