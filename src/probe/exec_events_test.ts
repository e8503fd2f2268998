import assert from "node:assert/strict";
import { openExecEvents } from "./exec_events.ts";
import { ebpfTest } from "./testing.ts";

ebpfTest(
  "exec events report a started program's pid, then its exit",
  async () => {
    const events = openExecEvents();
    try {
      const child = new Deno.Command("/bin/true").spawn();
      await child.status;
      const seen: string[] = [];
      const deadline = Date.now() + 10_000;
      while (!seen.includes("exit") && Date.now() < deadline) {
        for (const e of await events.next(200)) {
          if (e.pid === child.pid) seen.push(e.kind);
        }
      }
      assert.deepEqual(seen, ["exec", "exit"]);
    } finally {
      events.close();
    }
  },
);
