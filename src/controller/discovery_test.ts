import assert from "node:assert/strict";
import type { ExecEvent } from "../probe/mod.ts";
import { FakeMachine, MB, waitFor } from "../../testing/controller_host.ts";
import { Discovery } from "./discovery.ts";
import { Lane } from "./lanes.ts";

/** A Discovery on `m`, opened and following, that records what it asks of its owner. */
function discovery(m: FakeMachine) {
  const execs: [number, Lane][] = [];
  const exits: [number, ExecEvent | undefined][] = [];
  let rescans = 0;
  const d = new Discovery(m.host.processes, m.log, {
    exec: (event, lane) => execs.push([event.pid, lane]),
    exit: (pid, last) => exits.push([pid, last]),
    rescan: () => {
      rescans++;
      return Promise.resolve();
    },
    dropped: () => 0,
  });
  d.open();
  d.follow();
  return { d, execs, exits, rescans: () => rescans };
}

Deno.test("Discovery hands over execs, small programs in the later lane, and exits with their last exec", async () => {
  const m = new FakeMachine();
  m.file("/app/server", { size: 3 * MB, offset: 0x1000 });
  m.file("/bin/sh", { size: 100 << 10 });
  const { d, execs, exits } = discovery(m);
  try {
    assert.equal(d.by, "exec tracepoint");
    m.exec(1, "/bin/sh");
    m.exec(1, "/app/server"); // sh -c 'exec ./server'
    m.exit(1);
    await waitFor(() => exits.length === 1, "the exit");
    assert.deepEqual(execs, [[1, Lane.later], [1, Lane.first]]);
    const last = d.latest(1);
    assert.equal(last?.path, "/app/server");
    assert.equal(exits[0][1], last);
    // Handled: forgotten, unless a newer exec came meanwhile.
    d.exited(1, last);
    assert.equal(d.latest(1), undefined);
  } finally {
    d.close();
  }
});

Deno.test("Discovery passes rule-outs and watches to the kernel, and forgets an unwatched pid's exec", async () => {
  const m = new FakeMachine();
  m.file("/bin/sh", { size: 100 << 10 });
  const { d, execs } = discovery(m);
  try {
    m.exec(7, "/bin/sh");
    await waitFor(() => execs.length === 1, "the exec");
    d.unwatch(7);
    assert.ok(m.unwatched.has(7));
    assert.equal(d.latest(7), undefined);
    d.watch(8);
    assert.ok(m.watched.has(8));
    d.ruleOut({ ino: 1n, dev: 5, generation: 0, ctimeSec: 1n, ctimeNsec: 0 });
    assert.equal(m.ruledOut.length, 1);
  } finally {
    d.close();
  }
});

Deno.test("Discovery warns once per loss of exec events and rescans to catch up", async () => {
  const m = new FakeMachine();
  m.file("/bin/sh", { size: 100 << 10 });
  const { d, rescans } = discovery(m);
  try {
    m.lost = 10;
    m.exec(1, "/bin/sh");
    await waitFor(() => d.catchingUp, "the catch-up");
    await waitFor(() => !d.catchingUp, "the catch-up to end", 3_000);
    assert.equal(rescans(), 1);
    assert.equal(d.eventsLost, 10);
    assert.equal(m.logged("warn", "exec events lost").length, 1);
  } finally {
    d.close();
  }
});

Deno.test("Discovery falls back to /proc rescans every second when the kernel refuses exec events", async () => {
  const m = new FakeMachine();
  m.noEvents = true;
  const { d, rescans } = discovery(m);
  try {
    assert.equal(d.by, "/proc rescan");
    assert.equal(
      m.logged(
        "warn",
        "cannot watch process starts; rescanning /proc every second instead",
      ).length,
      1,
    );
    await waitFor(() => rescans() >= 1, "a rescan", 2_500);
  } finally {
    d.close();
  }
});
