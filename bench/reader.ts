/**
 * Ring buffer reader benchmark: how fast src/ring drains a backlog of
 * records into JS. The ring is filled by the probe's BPF_PROG_TEST_RUN build
 * (the same code as the uprobe, run in a bpf_loop), then only the drain is
 * timed, with a consumer that copies every record into JS memory (the
 * reader hands out views of the ring, valid only during the callback).
 * Needs root and eBPF.
 *
 * The backlog was just written by the kernel, so on hosts with large caches
 * much of it is still cached: the 64 KiB figure is close to memcpy speed
 * from cache (on the 2-vCPU development VM: 15-32 GB/s at 64 KiB, 9-33 M
 * records/s at 100 B, varying with the load of the shared host).
 *
 * @module
 */

import { makePayload, openTestProbe } from "../testing/probe.ts";
import { removePinRoot, testPinRoot } from "../testing/ebpf.ts";

/** Options of {@linkcode benchReader}. */
export interface BenchReaderOptions {
  /** A short run (~1 s) instead of ~5 s. */
  quick: boolean;
}

const sizes: [string, number][] = [["100b", 100], ["1k", 1024], ["64k", 65536]];

/**
 * Measures records/s and MB/s (10^6 bytes of record, header included) of
 * draining 100-byte, 1 KiB and 64 KiB records. Keys:
 * `reader_records_per_s_<size>` and `reader_mb_per_s_<size>` for size in
 * 100b, 1k, 64k.
 */
export async function benchReader(
  opts: BenchReaderOptions,
): Promise<Record<string, number>> {
  const ringBytes = 64 << 20;
  const minDrainMs = opts.quick ? 150 : 1000;
  const results: Record<string, number> = {};
  const root = testPinRoot();
  try {
    for (const [label, size] of sizes) {
      const tp = await openTestProbe("dynptr", {
        pinRoot: root,
        ringBytes,
        wakeBytes: ringBytes,
      });
      try {
        const batch = makePayload(size);
        const sink = new Uint8Array(24 + size);
        const recordBytes = (24 + size + 8 + 7) & ~7;
        const perFill = Math.min(
          Math.floor((ringBytes * 0.9) / recordBytes),
          1 << 23,
        );
        let records = 0;
        let bytes = 0;
        let ms = 0;
        while (ms < minDrainMs) {
          tp.emit(batch, perFill);
          const t0 = performance.now();
          // A consumer that keeps what it reads: each record is copied out of
          // the ring (the views are valid only during the callback) and its
          // header's length read.
          const n = tp.probe.reader.drain((r) => {
            sink.set(r);
            bytes += r.length + (sink[4] & 0);
          });
          ms += performance.now() - t0;
          records += n;
          if (n !== perFill) {
            throw new Error(
              `Reader benchmark: filled ${perFill} records but drained ${n}.`,
            );
          }
        }
        results[`reader_records_per_s_${label}`] = Math.round(
          records / (ms / 1000),
        );
        results[`reader_mb_per_s_${label}`] = Math.round(
          bytes / 1e6 / (ms / 1000),
        );
      } finally {
        tp.close();
      }
    }
  } finally {
    removePinRoot(root);
  }
  return results;
}

if (import.meta.main) {
  console.log(await benchReader({ quick: Deno.args.includes("--quick") }));
}
