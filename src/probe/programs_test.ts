// Tests of the BPF programs on the real kernel, driven through their
// BPF_PROG_TEST_RUN build (bpf/ended_*_test.bpf.c): the same code as the
// uprobe, without the trap.
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import {
  firstBadByte,
  makePayload,
  openTestProbe,
  parseHeader,
  spOffset,
  type TestProbe,
} from "../../testing/probe.ts";
import { ebpfTest } from "../../testing/ebpf.ts";
import type { ProbeKind } from "./_objects.ts";

const SB_RECORD_MAGIC = 0x31524253;

function drainAll(tp: TestProbe): Uint8Array[] {
  const out: Uint8Array[] = [];
  tp.probe.reader.drain((r) => out.push(r.slice()));
  return out;
}

/** Emits one batch of each size and checks each record byte by byte. */
async function roundTrip(
  tp: TestProbe,
  sizes: number[],
  recordLen: (size: number) => number,
): Promise<void> {
  for (const size of sizes) tp.emit(makePayload(size));
  assert(await tp.probe.reader.wait(1000), "records should be waiting");
  const recs = drainAll(tp);
  assertEquals(recs.length, sizes.length);
  recs.forEach((rec, i) => {
    const h = parseHeader(rec);
    assertEquals(h.magic, SB_RECORD_MAGIC);
    assertEquals(h.len, sizes[i]);
    assertEquals(h.tgid, Deno.pid);
    assertEquals(
      rec.length,
      recordLen(sizes[i]),
      `record length for a ${sizes[i]}-byte batch`,
    );
    assertEquals(
      firstBadByte(rec, sizes[i]),
      -1,
      `payload of the ${sizes[i]}-byte batch`,
    );
  });
}

for (const arch of ["x86", "arm64"]) {
  for (const kind of ["dynptr", "classes"] as ProbeKind[]) {
    ebpfTest(
      `${kind} program built for ${arch} reads ptr at SP+8 and len at SP+16 (SP at regs+${
        spOffset[arch]
      })`,
      async () => {
        const tp = await openTestProbe(kind, { arch });
        try {
          await roundTrip(
            tp,
            [100, 3000],
            (n) => kind === "dynptr" ? 24 + n : 24 + (n <= 128 ? 128 : 4096),
          );
        } finally {
          tp.close();
        }
      },
    );
  }
}

ebpfTest(
  "dynptr records are exact-size: 1 byte, past the size classes, and the maximum",
  async () => {
    const tp = await openTestProbe("dynptr");
    try {
      assertEquals(tp.probe.maxRecordBytes, 4 << 20);
      await roundTrip(tp, [1, (256 << 10) + 1, 1 << 20], (n) => 24 + n);
      await roundTrip(tp, [tp.probe.maxRecordBytes], (n) => 24 + n);
      tp.emit(makePayload(tp.probe.maxRecordBytes + 1));
      assertEquals(drainAll(tp).length, 0);
      const c = tp.probe.counters();
      assertEquals(c.oversize, 1);
      assertEquals(c.submitted, 4);
      assertEquals(c.bytes, 1 + (256 << 10) + 1 + (1 << 20) + (4 << 20));
    } finally {
      tp.close();
    }
  },
);

ebpfTest(
  "size-class records hold 1 byte, each class boundary and the maximum",
  async () => {
    const tp = await openTestProbe("classes");
    try {
      assertEquals(tp.probe.maxRecordBytes, 256 << 10);
      const classOf = (n: number) => {
        let c = 64;
        while (c < n) c *= 2;
        return c;
      };
      const sizes = [
        1,
        63,
        64,
        65,
        4095,
        4096,
        4097,
        65536,
        (128 << 10) + 1,
        256 << 10,
      ];
      await roundTrip(tp, sizes, (n) => 24 + classOf(n));
      tp.emit(makePayload((256 << 10) + 1));
      assertEquals(drainAll(tp).length, 0);
      assertEquals(tp.probe.counters().oversize, 1);
    } finally {
      tp.close();
    }
  },
);

ebpfTest("maxRecordBytes lowers the limit the program enforces", async () => {
  const tp = await openTestProbe("dynptr", { maxRecordBytes: 1000 });
  try {
    assertEquals(tp.probe.maxRecordBytes, 1000);
    await roundTrip(tp, [1000], (n) => 24 + n);
    tp.emit(makePayload(1001));
    assertEquals(tp.probe.counters().oversize, 1);
  } finally {
    tp.close();
  }
});

for (const kind of ["dynptr", "classes"] as ProbeKind[]) {
  ebpfTest(
    `${kind} counters match what was sent, including a full ring and sequence gaps`,
    async () => {
      const tp = await openTestProbe(kind, { ringBytes: 64 << 10 });
      try {
        const batch = makePayload(1000);
        tp.emit(batch, 100); // ~100 KB into a 64 KiB ring: some do not fit
        const c = tp.probe.counters();
        assertEquals(c.hits, 100);
        assertEquals(c.filtered, 0);
        assert(c.ringFull > 0, "a 64 KiB ring cannot hold 100 records of 1 KB");
        assertEquals(c.submitted + c.ringFull, 100);
        assertEquals(c.bytes, c.submitted * 1000);
        const recs = drainAll(tp);
        assertEquals(recs.length, c.submitted);
        const seqs = recs.map((r) => parseHeader(r).seq);
        assertEquals(
          seqs,
          seqs.map((_, i) => i),
          "the records that fit come first, in order",
        );
        tp.emit(batch);
        assertEquals(
          parseHeader(drainAll(tp)[0]).seq,
          100,
          "the next record shows the gap",
        );
      } finally {
        tp.close();
      }
    },
  );
}

ebpfTest(
  "disabled probe and pid filter count hits as filtered and record nothing",
  async () => {
    const tp = await openTestProbe("dynptr");
    try {
      const batch = makePayload(10);
      tp.setEnabled(false);
      tp.emit(batch, 3);
      tp.setEnabled(true);
      tp.probe.setPidFilter([Deno.pid + 1]);
      tp.emit(batch, 2);
      assertEquals(drainAll(tp).length, 0);
      tp.probe.setPidFilter([Deno.pid + 1, Deno.pid]);
      tp.emit(batch, 4);
      tp.probe.setPidFilter(null);
      tp.emit(batch, 1);
      assertEquals(drainAll(tp).length, 5);
      const c = tp.probe.counters();
      assertEquals([c.hits, c.filtered, c.submitted], [10, 5, 5]);
    } finally {
      tp.close();
    }
  },
);

ebpfTest(
  "an empty batch is a bare header; an unreadable one counts as a read fault",
  async () => {
    const tp = await openTestProbe("dynptr");
    try {
      tp.emit(new Uint8Array(0));
      assertEquals(drainAll(tp).map((r) => parseHeader(r).len), [0]);
      tp.emitUnreadable(16);
      assertEquals(drainAll(tp).length, 0);
      assertEquals(tp.probe.counters().readFaults, 1);
    } finally {
      tp.close();
    }
  },
);
