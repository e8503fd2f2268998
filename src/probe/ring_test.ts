// Tests of the mmapped ring reader on the real kernel, with the ring filled
// by the probe's BPF_PROG_TEST_RUN build.
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { openRing } from "./ring.ts";
import {
  firstBadByte,
  makePayload,
  openTestProbe,
  parseHeader,
} from "../../testing/probe.ts";
import { ebpfTest } from "../../testing/ebpf.ts";
import { HEADER_SIZE } from "../decode/mod.ts";

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

ebpfTest(
  "records that run past the ring's end arrive whole and byte-exact, lap after lap",
  async () => {
    const ring = 64 << 10;
    const tp = await openTestProbe("dynptr", { ringBytes: ring });
    const reader = tp.probe.reader;
    try {
      // The ring's position, tracked as the kernel advances it: an 8-byte
      // header, then the record (sb_record_header and payload), 8-aligned.
      let pos = 0;
      let seq = 0;
      const wrapped = new Set<number>();
      let headerEndsRing = 0;
      let endsAtRingEnd = 0;
      const footprint = (payload: number) =>
        (8 + HEADER_SIZE + payload + 7) & ~7;
      // Emits one record of `payload` bytes and drains it, checking it.
      const one = (payload: number) => {
        const start = pos % ring;
        const end = start + footprint(payload);
        if (start === ring - 8) headerEndsRing++;
        else if (end === ring) endsAtRingEnd++;
        else if (start + 8 + HEADER_SIZE + payload > ring) wrapped.add(payload);
        tp.emit(makePayload(payload));
        pos += footprint(payload);
        const n = reader.drain((r) => {
          assertEquals(r.length, HEADER_SIZE + payload);
          const h = parseHeader(r);
          assertEquals([h.seq, h.len], [seq++, payload]);
          assertEquals(firstBadByte(r, payload), -1, `payload ${payload}`);
        });
        assertEquals(n, 1);
      };
      // Records of at most 16 KiB of ring until `room` bytes are left
      // before the ring's end (going round once more when the distance is
      // shorter than the smallest record).
      const padTo = (room: number) => {
        let dist = ((ring - pos % ring) - room + ring) % ring;
        if (dist > 0 && dist < footprint(0)) dist += ring;
        while (dist > 0) {
          let step = Math.min(dist, 16 << 10);
          if (dist - step > 0 && dist - step < footprint(0)) step -= 64;
          one(step - footprint(0));
          dist -= step;
        }
      };
      // Sizes that cut the ring's end at different points of the record:
      // its first payload byte, its last, the middle of its sb_record_header.
      let rnd = 7;
      for (let lap = 0; lap < 60; lap++) {
        padTo(8);
        one(100 + lap); // the header ends the ring: the record starts at 0
        padTo(8 + HEADER_SIZE);
        one(1 + lap); // only the payload is past the end
        padTo(8 + HEADER_SIZE + 1 + lap);
        one(2 + 2 * lap); // the last payload bytes are past the end
        padTo(24);
        one(5000 + lap); // the sb_record_header is cut
        padTo(4096);
        one(4096 - 8 - HEADER_SIZE); // ends exactly at the ring's end
        // Then a few of random sizes, up to the largest record (half the
        // ring), wherever they fall.
        for (let i = 0; i < 8; i++) {
          rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
          one(rnd % (ring / 2 - 8 - HEADER_SIZE));
        }
      }
      assertEquals(headerEndsRing, 60);
      assert(endsAtRingEnd >= 60, `${endsAtRingEnd} records ended the ring`);
      assert(wrapped.size >= 120, `${wrapped.size} sizes wrapped`);
      assert(pos > 100 * ring, "many laps");
      assertEquals(reader.waitingBytes(), 0);
      assertEquals(tp.probe.counters().ringFull, 0);
    } finally {
      tp.close();
    }
  },
);

/** Resident KiB of this process's BPF map mappings (/proc/self/smaps). */
function bpfMapRssKiB(): number {
  let kib = 0;
  let inMap = false;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inMap = line.endsWith("anon_inode:bpf-map");
    } else if (inMap && line.startsWith("Rss:")) {
      kib += Number(line.match(/(\d+) kB/)![1]);
    }
  }
  return kib;
}

ebpfTest(
  "a reader maps the ring's data once: its resident size is the ring size plus two pages",
  async () => {
    const ring = 4 << 20;
    const tp = await openTestProbe("dynptr", { ringBytes: ring });
    try {
      const page = 4096; // x86_64 and arm64 as built here
      const before = bpfMapRssKiB();
      const reader = openRing(`${tp.probe.pinDir}/maps/rb`);
      const opened = bpfMapRssKiB();
      reader.close();
      assertEquals(
        opened - before,
        (ring + 2 * page) / 1024,
        "data once, the consumer and producer pages",
      );
      assertEquals(bpfMapRssKiB(), before, "all of it unmapped at close");
    } finally {
      tp.close();
    }
  },
);

ebpfTest(
  "a kept view of a record that wrapped is empty once the reader is closed",
  async () => {
    const tp = await openTestProbe("dynptr", { ringBytes: 64 << 10 });
    try {
      const reader = openRing(`${tp.probe.pinDir}/maps/rb`);
      // 15 records of 4032 ring bytes leave 5056 before the end: the next
      // one, of 6032, wraps.
      tp.emit(makePayload(4000), 15);
      assertEquals(reader.drain(() => {}), 15);
      tp.emit(makePayload(6000));
      let kept: Uint8Array | undefined;
      reader.drain((r) => kept = r);
      assertEquals(firstBadByte(kept!, 6000), -1);
      assert(kept!.buffer.byteLength < 64 << 10, "a copy, not the ring");
      reader.close();
      assertEquals(kept!.length, 0, "the scratch copy is detached too");
    } finally {
      tp.close();
    }
  },
);
