/**
 * Which probe program this kernel gets, and where its BPF object comes
 * from: build/bpf/ by default, or bytes handed in (the standalone binary
 * embeds them), written to a private temporary file for bpftool.
 *
 * @module
 */

import { endedLayout } from "../wire/mod.ts";

/** The two programs: exact-size dynptr records (6.16+) or size classes (5.8+). */
export type ProbeKind = "dynptr" | "classes";

/** Largest payload each program can carry (SB_MAX_RECORD_* in bpf/ended.h). */
export const kindMaxRecord: Record<ProbeKind, number> = {
  dynptr: endedLayout.MAX_RECORD_DYNPTR,
  classes: endedLayout.MAX_RECORD_CLASSES,
};

/** Per-kind BPF object bytes for this machine's architecture. */
export type ProbeObjects = Partial<Record<ProbeKind, Uint8Array>>;

/** Where `deno task build` writes the BPF objects. */
export const defaultObjectDir =
  new URL("../../build/bpf/", import.meta.url).pathname;

/** "x86" or "arm64": the suffix of the object built for this machine. */
export function objectArch(): string {
  switch (Deno.build.arch) {
    case "x86_64":
      return "x86";
    case "aarch64":
      return "arm64";
    default:
      throw new Error(
        `Cannot trace on ${Deno.build.arch}: only x86_64 and aarch64 are supported.`,
      );
  }
}

/** Reads the object of `kind` (a test variant with `suffix` "_test"). */
export function readObject(
  kind: ProbeKind,
  objects?: ProbeObjects,
  objectDir?: string,
  suffix = "",
): Uint8Array {
  const given = objects?.[kind];
  if (given && !suffix) return given;
  return readObjectFile(
    `${objectDir ?? defaultObjectDir}/ended_${kind}${suffix}.${objectArch()}.o`,
  );
}

/** Reads a built BPF object; throws saying how to build it when it cannot. */
export function readObjectFile(path: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `Cannot read the BPF object ${path}: ${why}. Build it first (deno task build).`,
    );
  }
}

/** The first 12 hex digits of the SHA-256 of `bytes`. */
export async function digestOf(
  bytes: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash.subarray(0, 6), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Writes `bytes` to a new private temporary file for bpftool; returns its path. */
export function writeTempObject(bytes: Uint8Array): string {
  const dir = Deno.makeTempDirSync({ prefix: "spanbridge-bpf-" });
  Deno.chmodSync(dir, 0o700);
  const path = `${dir}/probe.o`;
  Deno.writeFileSync(path, bytes, { mode: 0o600 });
  return path;
}
