// The contract between bpf/exec.h and the TypeScript side: every struct and
// constant the exec-event reader uses, read from the C header itself.
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { binary, event, KIND_EXEC, KIND_EXIT, RING_BYTES } from "./exec_h.ts";
import { CHeader, plain } from "../../testing/c_header.ts";

const header = CHeader.read("bpf/exec.h");

Deno.test("the event kinds match the #defines of bpf/exec.h", () => {
  assertEquals(
    [KIND_EXEC, KIND_EXIT],
    [header.define("SB_EXEC_KIND_EXEC"), header.define("SB_EXEC_KIND_EXIT")],
  );
});

Deno.test("the exec event ring's default size matches bpf/exec.h", () => {
  assertEquals(RING_BYTES, header.define("SB_EXEC_RING_BYTES"));
});

Deno.test("struct sb_exec_binary matches bpf/exec.h", () => {
  assertEquals(plain(binary), header.layout("sb_exec_binary"));
});

Deno.test("struct sb_exec_event matches bpf/exec.h", () => {
  assertEquals(plain(event), header.layout("sb_exec_event"));
  // The path is the last field and runs to the end of the struct.
  assertEquals(
    event.size - event.offsets.path,
    header.define("SB_EXEC_PATH_MAX"),
  );
});

Deno.test("the header reader lays out C structs as the compiler does", () => {
  // Offsets and sizes as clang 14 gives them on x86_64.
  const h = new CHeader(
    "test.h",
    `#define N (2u << 2)
     struct inner { __u8 a; /* b; */ __u64 b; };
     struct outer {
       __u16 x;
       struct inner in; /* aligned to 8 */
       char name[N];
       __s32 tail[3];
     };`,
  );
  assertEquals(h.struct("inner"), {
    size: 16,
    align: 8,
    offsets: { a: 0, b: 8 },
  });
  assertEquals(h.struct("outer"), {
    size: 48,
    align: 8,
    offsets: { x: 0, in: 8, name: 24, tail: 32 },
  });
  throws(
    () => new CHeader("t.h", "struct s { __u32 a; int b; };").struct("s"),
    /Cannot lay out type int \(s\.b\) of t\.h/,
  );
  throws(
    () => new CHeader("t.h", "struct s { __u32 a, b; };").struct("s"),
    /Cannot lay out "__u32 a, b" in struct s of t\.h/,
  );
});
