// The second witness of the contract: the layouts here against what clang
// made of bpf/ended.h and bpf/exec.h, read from the BTF of the probe objects
// `./task build` writes for both architectures (x86, arm64). The header tests
// beside this one read the C text with our own alignment rules; this one
// needs no rules. Only the structs a program uses are in its BTF: the record
// and batch headers (copied as bytes, never typed) are checked by the header
// tests alone.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { config, counters } from "./ended_h.ts";
import { binary, event } from "./exec_h.ts";
import type { StructLayout } from "./_layout.ts";
import { plain } from "../../testing/c_header.ts";

const objectDir = new URL("../../build/bpf/", import.meta.url).pathname;

interface BtfStruct {
  kind: string;
  name?: string;
  size: number;
  members?: { name: string; bits_offset: number }[];
}

/** The structs named in `object`'s BTF, as StructLayouts. */
async function btfStructs(
  object: string,
): Promise<Map<string, StructLayout<string>>> {
  const path = `${objectDir}${object}`;
  const out = await new Deno.Command("bpftool", {
    args: ["-j", "btf", "dump", "file", path, "format", "raw"],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => {
    throw new Error(`Cannot run bpftool to read ${path}: ${e.message}`);
  });
  if (!out.success) {
    throw new Error(
      `Cannot read the BTF of ${path}: ${
        new TextDecoder().decode(out.stderr).trim()
      }; run ./task build first`,
    );
  }
  const types: BtfStruct[] = JSON.parse(new TextDecoder().decode(out.stdout))
    .types;
  const structs = new Map<string, StructLayout<string>>();
  for (const t of types) {
    if (t.kind !== "STRUCT" || !t.name?.startsWith("sb_")) continue;
    structs.set(t.name, {
      size: t.size,
      offsets: Object.fromEntries(
        (t.members ?? []).map((m) => [m.name, m.bits_offset / 8]),
      ),
    });
  }
  return structs;
}

const programs: [string, Record<string, StructLayout<string>>][] = [
  ["ended_dynptr", { sb_counters: counters, sb_config: config }],
  ["ended_classes", { sb_counters: counters, sb_config: config }],
  ["exec", { sb_exec_event: event, sb_exec_binary: binary }],
];

for (const arch of ["x86", "arm64"]) {
  for (const [program, layouts] of programs) {
    const object = `${program}.${arch}.o`;
    Deno.test(`the structs compiled into ${object} match src/wire`, async () => {
      const compiled = await btfStructs(object);
      for (const [name, layout] of Object.entries(layouts)) {
        const got = compiled.get(name);
        assertEquals(
          got && plain(got),
          plain(layout),
          `struct ${name} in ${object}`,
        );
      }
    });
  }
}
