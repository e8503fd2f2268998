import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  instanceDirName,
  ownerAlive,
  parseInstanceDirName,
} from "./_instance.ts";
import { startTicks } from "../process/mod.ts";

Deno.test("instance directory names round-trip and hold no dots", () => {
  const id = {
    name: "web-1",
    pid: 4242,
    start: 123456,
    n: 3,
    digest: "0123456789ab",
  };
  const name = instanceDirName(id);
  assertEquals(name.includes("."), false);
  assertEquals(parseInstanceDirName(name), id);
  assertEquals(parseInstanceDirName("web.1_1_2_3_ab"), null);
  assertEquals(parseInstanceDirName("progs"), null);
});

Deno.test("ownerAlive tells this process from a dead one and from a reused pid", () => {
  const start = startTicks(Deno.pid)!;
  const me = { name: "x", pid: Deno.pid, start, n: 0, digest: "00" };
  assertEquals(ownerAlive(me), true);
  assertEquals(
    ownerAlive({ ...me, start: start + 1 }),
    false,
    "same pid, other start time",
  );
  assertEquals(
    ownerAlive({ ...me, pid: 0x3fffffff }),
    false,
    "no such process",
  );
});

Deno.test("ownerAlive treats an owner that exited but was not reaped (a zombie) as gone", async () => {
  // The shell's background child exits at once; `exec sleep` replaces the
  // shell and never reaps it, so it stays a zombie while sleep runs.
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 0 & echo $!; exec sleep 30"],
    stdout: "piped",
  }).spawn();
  const reader = parent.stdout.getReader();
  try {
    const { value } = await reader.read();
    const pid = Number(new TextDecoder().decode(value).trim());
    const state = () => {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return stat.slice(stat.lastIndexOf(")") + 2)[0];
    };
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    for (let i = 0; i < 100 && state() !== "Z"; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(state(), "Z");
    assertEquals(
      ownerAlive({ name: "x", pid, start, n: 0, digest: "00" }),
      false,
    );
  } finally {
    reader.releaseLock();
    await parent.stdout.cancel();
    parent.kill();
    await parent.status;
  }
});
