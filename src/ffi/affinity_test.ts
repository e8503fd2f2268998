import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { pinToCurrentCpu } from "./mod.ts";

function allowedCpus(): string {
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)![1];
}

Deno.test("pinToCurrentCpu keeps the thread on one CPU until restored", () => {
  const before = allowedCpus();
  const restore = pinToCurrentCpu();
  try {
    const pinned = allowedCpus();
    assertEquals(/^\d+$/.test(pinned), true, `one CPU, got ${pinned}`);
  } finally {
    restore();
  }
  assertEquals(allowedCpus(), before);
});
