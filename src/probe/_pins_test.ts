import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  instanceDirName,
  ownerAlive,
  parseInstanceDirName,
  processStart,
  removeIfEmpty,
} from "./_pins.ts";

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
  const start = processStart(Deno.pid)!;
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

Deno.test("removeIfEmpty removes an empty directory only", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/full/inner`, { recursive: true });
    Deno.mkdirSync(`${dir}/empty`);
    removeIfEmpty(`${dir}/full`);
    removeIfEmpty(`${dir}/empty`);
    removeIfEmpty(`${dir}/missing`);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["full"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
