/**
 * A reader of the build information Go embeds in every binary (what
 * `go version -m` prints and runtime/debug.ReadBuildInfo returns): the Go
 * version, the main package and module, and the build settings.
 *
 * Format (Go 1.18+, see Go's src/debug/buildinfo/buildinfo.go): a 32-byte
 * header, 16-byte aligned, in .go.buildinfo (or at the start of the first
 * writable segment when there are no section headers): the magic
 * "\xff Go buildinf:", the pointer size, a flags byte whose bit 1 means
 * "strings inline", then two varint-length-prefixed strings: the Go version
 * and the module info. The module info is framed by two 16-byte sentinels
 * and holds tab-separated lines (`path`, `mod`, `dep`, `=>`, `build`). Older
 * toolchains stored pointers instead; they cannot build the SDK and yield
 * undefined here.
 *
 * @module
 */

import { type ElfFile, maxTableBytes, PF_W, PF_X, scan } from "./elf.ts";

/** A module as recorded in the build info. */
export interface GoModule {
  /** The module path, e.g. "github.com/acme/app". */
  path: string;
  /** The version, e.g. "v1.2.3", or "(devel)" for a build of a work tree. */
  version: string;
  /** The go.sum checksum, when known. */
  sum?: string;
  /** The replacement, when go.mod replaces this module. */
  replace?: GoModule;
}

/** The build information of a Go binary (runtime/debug.BuildInfo). */
export interface GoBuildInfo {
  /** The toolchain version, e.g. "go1.26.8". */
  goVersion: string;
  /** The main package path, e.g. "github.com/acme/app/cmd/app". */
  path: string;
  /** The main module. Empty path and version when built outside a module. */
  mainModule: GoModule;
  /** The dependencies. */
  deps: GoModule[];
  /** The build settings, e.g. GOARCH, GOOS, CGO_ENABLED, vcs.revision, -ldflags. */
  settings: Record<string, string>;
}

const magic = [0xff, ...new TextEncoder().encode(" Go buildinf:")];
const headerSize = 32;
const inlineFlag = 2;

/**
 * Reads the build info of `elf`, or returns undefined when it has none (not
 * a Go binary, or one built before Go 1.18).
 */
export async function readBuildInfo(
  elf: ElfFile,
): Promise<GoBuildInfo | undefined> {
  const sect = elf.section(".go.buildinfo");
  const seg = elf.loads().find((p) => (p.flags & (PF_W | PF_X)) === PF_W);
  const area = sect !== undefined
    ? elf.sectionRange(sect)
    : seg !== undefined
    ? elf.segmentRange(seg)
    : undefined;
  if (area === undefined) return undefined;
  const isMagic = (d: Uint8Array, i: number) =>
    d[i] === 0xff && magic.every((c, j) => d[i + j] === c);
  let data: Uint8Array | undefined;
  for await (const at of scan(area, 16, headerSize, isMagic)) {
    // The blob is a few KiB (36 KiB for a program of ~600 modules); what
    // does not fit in a table's bound is dropped like any malformed info.
    data = await area.read(at, maxTableBytes);
    break;
  }
  if (data === undefined || (data[15] & inlineFlag) === 0) return undefined;
  const vers = readString(data, headerSize);
  if (vers === undefined || vers.value.length === 0) return undefined;
  const mod = readString(data, vers.end);
  if (mod === undefined) return undefined;
  const text = new TextDecoder();
  return parseModInfo(text.decode(vers.value), text.decode(unframe(mod.value)));
}

/**
 * Parses the module info text (as runtime/debug.ParseBuildInfo does), given
 * the Go version read separately. Malformed lines are skipped: the build info
 * is informational and must never stop a trace.
 */
export function parseModInfo(goVersion: string, text: string): GoBuildInfo {
  const info: GoBuildInfo = {
    goVersion,
    path: "",
    mainModule: { path: "", version: "" },
    deps: [],
    settings: {},
  };
  let last: GoModule | undefined;
  for (const line of text.split("\n")) {
    const [kind, ...cols] = line.split("\t");
    if (kind === "path") info.path = cols.join("\t");
    else if ((kind === "mod" || kind === "dep") && cols.length >= 2) {
      last = {
        path: cols[0],
        version: cols[1],
        ...(cols[2] ? { sum: cols[2] } : {}),
      };
      if (kind === "mod") info.mainModule = last;
      else info.deps.push(last);
    } else if (kind === "=>" && cols.length >= 2 && last !== undefined) {
      last.replace = {
        path: cols[0],
        version: cols[1],
        ...(cols[2] ? { sum: cols[2] } : {}),
      };
      last = undefined;
    } else if (kind === "build") {
      const kv = parseSetting(cols.join("\t"));
      if (kv !== undefined) info.settings[kv[0]] = kv[1];
    }
  }
  return info;
}

function parseSetting(kv: string): [string, string] | undefined {
  let key: string | undefined;
  let rest: string;
  if (kv.startsWith('"') || kv.startsWith("`")) {
    const q = quotedPrefix(kv);
    if (q === undefined || kv[q.length] !== "=") return undefined;
    key = unquote(q);
    rest = kv.slice(q.length + 1);
  } else {
    const eq = kv.indexOf("=");
    if (eq <= 0) return undefined;
    key = kv.slice(0, eq);
    rest = kv.slice(eq + 1);
  }
  const value = rest.startsWith('"') || rest.startsWith("`")
    ? unquote(rest)
    : rest;
  return key === undefined || value === undefined ? undefined : [key, value];
}

/** Returns the Go quoted string at the start of `s` (with its quotes). */
function quotedPrefix(s: string): string | undefined {
  const q = s[0];
  for (let i = 1; i < s.length; i++) {
    if (q === '"' && s[i] === "\\") i++;
    else if (s[i] === q) return s.slice(0, i + 1);
  }
  return undefined;
}

const escapes: Record<string, string> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

/**
 * Unquotes a Go string literal as written by strconv.Quote (build settings
 * with spaces, e.g. -ldflags="-s -w"). Undefined if malformed.
 */
function unquote(s: string): string | undefined {
  if (s.length < 2 || s[0] !== s[s.length - 1]) return undefined;
  if (s[0] === "`") return s.slice(1, -1);
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 1; i < s.length - 1; i++) {
    if (s[i] !== "\\") {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      bytes.push(...enc.encode(ch));
      i += ch.length - 1;
      continue;
    }
    const c = s[++i];
    const hexLen = c === "x" ? 2 : c === "u" ? 4 : c === "U" ? 8 : 0;
    if (hexLen > 0) {
      const n = parseInt(s.slice(i + 1, i + 1 + hexLen), 16);
      if (Number.isNaN(n)) return undefined;
      if (c === "x") bytes.push(n);
      else bytes.push(...enc.encode(String.fromCodePoint(n)));
      i += hexLen;
    } else if (c >= "0" && c <= "7") {
      bytes.push(parseInt(s.slice(i, i + 3), 8));
      i += 2;
    } else if (c in escapes) {
      bytes.push(escapes[c].charCodeAt(0));
    } else {
      return undefined;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Reads a varint-length-prefixed string at `off`. */
function readString(
  data: Uint8Array,
  off: number,
): { value: Uint8Array; end: number } | undefined {
  let len = 0;
  let shift = 0;
  let i = off;
  for (; i < data.length && i < off + 10; i++) {
    len += (data[i] & 0x7f) * 2 ** shift;
    shift += 7;
    if ((data[i] & 0x80) === 0) break;
  }
  const start = i + 1;
  if (start + len > data.length) return undefined;
  return { value: data.subarray(start, start + len), end: start + len };
}

/** Strips the 16-byte sentinels cmd/go puts around the module info. */
function unframe(mod: Uint8Array): Uint8Array {
  // Like Go, recognise the framing by the newline before the closing sentinel.
  if (mod.length >= 33 && mod[mod.length - 17] === 0x0a) {
    return mod.subarray(16, mod.length - 16);
  }
  return new Uint8Array();
}
