// Tests of the mmapped ring reader on the real kernel, with the ring filled
// by the probe's BPF_PROG_TEST_RUN build.
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { openRing } from "./ring.ts";
import {
  ebpfTest,
  makePayload,
  openTestProbe,
  parseHeader,
} from "./testing.ts";

ebpfTest(
  "ring reader drains records in order, across the ring's wrap-around",
  async () => {
    const tp = await openTestProbe("dynptr", { ringBytes: 64 << 10 });
    try {
      let seq = 0;
      for (let round = 0; round < 20; round++) {
        // 7 records of 3000+ bytes per round: positions wrap every few rounds.
        tp.emit(makePayload(3000 + round), 7);
        const lens: number[] = [];
        const n = tp.probe.reader.drain((r) => {
          const h = parseHeader(r);
          assertEquals(h.seq, seq++);
          lens.push(h.len);
        });
        assertEquals(n, 7);
        assertEquals(lens, Array(7).fill(3000 + round));
      }
      assertEquals(tp.probe.reader.waitingBytes(), 0);
      assertEquals(tp.probe.counters().ringFull, 0);
    } finally {
      tp.close();
    }
  },
);

ebpfTest(
  "ring reader wait: immediate with data, false on timeout, woken past wakeBytes only",
  async () => {
    const tp = await openTestProbe("dynptr", { wakeBytes: 4096 });
    const reader = tp.probe.reader;
    try {
      let t = performance.now();
      assertEquals(await reader.wait(100), false);
      assert(performance.now() - t >= 90, "waits for the timeout");

      // Below wakeBytes the producer does not wake the reader: the wait ends
      // by its timeout (and then sees the data on the next call).
      t = performance.now();
      const lazy = reader.wait(300);
      tp.emit(makePayload(100));
      await lazy;
      assert(
        performance.now() - t >= 250,
        "a small record does not wake the reader",
      );
      assertEquals(await reader.wait(0), true);
      reader.drain(() => {});

      t = performance.now();
      const woken = reader.wait(5000);
      tp.emit(makePayload(5000));
      assertEquals(await woken, true);
      assert(
        performance.now() - t < 1000,
        "a record past wakeBytes wakes the reader",
      );
    } finally {
      tp.close();
    }
  },
);

ebpfTest(
  "ring reader close cancels a pending wait and detaches handed-out views",
  async () => {
    const tp = await openTestProbe("dynptr");
    const path = `${tp.probe.pinDir}/maps/rb`;
    const reader = openRing(path);
    try {
      const t = performance.now();
      const pending = reader.wait(10_000);
      setTimeout(() => reader.close(), 50);
      assertEquals(await pending, false);
      assert(performance.now() - t < 2000, "close ends the wait at once");
      assertEquals(await reader.wait(10), false);
      assertEquals(reader.drain(() => {}), 0);

      const second = openRing(path);
      tp.emit(makePayload(10));
      let kept: Uint8Array | undefined;
      second.drain((r) => kept = r);
      assertEquals(kept!.length, 34);
      second.close();
      assertEquals(
        kept!.length,
        0,
        "a view kept past close is empty, not a dangling pointer",
      );
    } finally {
      reader.close();
      tp.close();
    }
  },
);

ebpfTest(
  "a new reader of the same ring resumes at the consumer position",
  async () => {
    const tp = await openTestProbe("classes");
    try {
      tp.emit(makePayload(500), 5);
      const path = `${tp.probe.pinDir}/maps/rb`;
      const first = openRing(path);
      let n = 0;
      try {
        first.drain(() => {
          if (++n === 2) throw new Error("stop");
        });
      } catch (e) {
        assertEquals((e as Error).message, "stop");
      }
      first.close();
      const seqs: number[] = [];
      const second = openRing(path);
      second.drain((r) => seqs.push(parseHeader(r).seq));
      second.close();
      assertEquals(seqs, [2, 3, 4], "the record that threw counts as consumed");
    } finally {
      tp.close();
    }
  },
);

ebpfTest(
  "openRing names the path and what to do when the pin is missing",
  () => {
    try {
      openRing("/sys/fs/bpf/spanbridge-no-such-ring");
      assert(false, "should throw");
    } catch (e) {
      assertEquals(
        (e as Error).message,
        "Cannot open the pinned BPF object /sys/fs/bpf/spanbridge-no-such-ring: bpf_obj_get failed: No such file or directory (ENOENT).",
      );
    }
  },
);

ebpfTest(
  "closing the reader from a drain callback stops the drain and keeps the rest",
  async () => {
    const tp = await openTestProbe("dynptr");
    try {
      tp.emit(makePayload(10), 4);
      const path = `${tp.probe.pinDir}/maps/rb`;
      const first = openRing(path);
      assertEquals(first.drain(() => first.close()), 1);
      const second = openRing(path);
      assertEquals(second.drain(() => {}), 3);
      second.close();
    } finally {
      tp.close();
    }
  },
);

ebpfTest(
  "a drain with a record budget leaves the rest in the ring, in order",
  async () => {
    const tp = await openTestProbe("dynptr");
    try {
      tp.emit(makePayload(10), 5);
      const seqs: number[] = [];
      const take = (r: Uint8Array) => seqs.push(parseHeader(r).seq);
      assertEquals(tp.probe.reader.drain(take, 2), 2);
      assert(tp.probe.reader.waitingBytes() > 0, "the rest waits in the ring");
      assertEquals(tp.probe.reader.drain(take, 0), 0);
      assertEquals(tp.probe.reader.drain(take), 3);
      assertEquals(seqs, [0, 1, 2, 3, 4]);
    } finally {
      tp.close();
    }
  },
);
