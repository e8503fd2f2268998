import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { errnoText, SysError } from "./errors.ts";

Deno.test("errnoText gives the C library's text and the errno name", () => {
  assertEquals(errnoText(1), "Operation not permitted (EPERM)");
  assertEquals(errnoText(2), "No such file or directory (ENOENT)");
});

Deno.test("SysError reads as a sentence naming the failing call and what to do", () => {
  const e = new SysError(
    "bpf_obj_get",
    "Cannot open ring buffer /sys/fs/bpf/x/maps/rb",
    1,
    "Run as root or grant CAP_BPF and CAP_PERFMON.",
  );
  assertEquals(
    e.message,
    "Cannot open ring buffer /sys/fs/bpf/x/maps/rb: bpf_obj_get failed: Operation not permitted (EPERM). Run as root or grant CAP_BPF and CAP_PERFMON.",
  );
  assertEquals([e.errno, e.call], [1, "bpf_obj_get"]);
});

Deno.test("SysError is an environment error for a missing privilege or kernel feature, else a runtime error", () => {
  assertEquals(new SysError("bpf", "x", 1).category, "environment");
  assertEquals(new SysError("bpf", "x", 38).category, "environment");
  assertEquals(new SysError("bpf", "x", 22).category, "runtime");
});
