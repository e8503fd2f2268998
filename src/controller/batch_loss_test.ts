import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { BatchLoss, OTHER_SERVICES } from "./batch_loss.ts";

/** Feeds `seqs` of one process (key `${pid}@1`, service `svc-${pid}`). */
function feed(loss: BatchLoss, pid: number, seqs: number[], start = 1) {
  for (const seq of seqs) {
    loss.observe(`${pid}@${start}`, pid, seq, () => `svc-${pid}`);
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("batch loss counts nothing for batches in order", () => {
  const loss = new BatchLoss();
  feed(loss, 7, range(1, 1000));
  loss.settle(0);
  loss.settle(10_000);
  loss.finish();
  deepStrictEqual(loss.counters(), {
    lost: 0,
    lostByService: {},
    processes: 0,
    late: 0,
    reordered: 0,
  });
});

Deno.test("batch loss counts a gap once a later batch was seen for the grace", () => {
  const loss = new BatchLoss({ graceMs: 1000 });
  feed(loss, 7, [1, 2, 6, 7]);
  loss.settle(0);
  strictEqual(loss.counters().lost, 0, "counted before the grace");
  loss.settle(999);
  strictEqual(loss.counters().lost, 0, "counted before the grace");
  loss.settle(1000);
  deepStrictEqual(loss.counters(), {
    lost: 3,
    lostByService: { "svc-7": 3 },
    processes: 1,
    late: 0,
    reordered: 0,
  });
  deepStrictEqual(loss.takeNew(), [{ pid: 7, service: "svc-7", batches: 3 }]);
  deepStrictEqual(loss.takeNew(), []);
});

Deno.test("batch loss never counts batches reordered within a drain as lost", () => {
  // Two goroutines on two CPUs: each takes its number, then traps; the one
  // that took the later number reaches the ring first.
  const loss = new BatchLoss({ graceMs: 1000 });
  feed(loss, 7, [1, 3, 2, 5, 4, 6, 9, 7, 8, 10]);
  loss.settle(0);
  loss.settle(5000);
  loss.finish();
  strictEqual(loss.counters().lost, 0);
  strictEqual(loss.counters().late, 0);
  strictEqual(loss.counters().reordered, 4);
});

Deno.test("batch loss waits the grace for a batch held up across drains", () => {
  const loss = new BatchLoss({ graceMs: 1000 });
  feed(loss, 7, [1, 3, 4]);
  loss.settle(0); // the ring was read to its end: 2 is not there yet
  feed(loss, 7, [5]);
  loss.settle(600);
  feed(loss, 7, [2, 6]); // 2's goroutine was preempted for a while
  loss.settle(1200);
  loss.finish();
  deepStrictEqual(loss.counters(), {
    lost: 0,
    lostByService: {},
    processes: 0,
    late: 0,
    reordered: 1,
  });
});

Deno.test("batch loss counts a batch later than the grace as lost and then late, never twice", () => {
  const loss = new BatchLoss({ graceMs: 1000 });
  feed(loss, 7, [1, 3]);
  loss.settle(0);
  loss.settle(1000);
  strictEqual(loss.counters().lost, 1);
  feed(loss, 7, [2, 4]);
  loss.finish();
  strictEqual(loss.counters().lost, 1);
  strictEqual(loss.counters().late, 1);
});

Deno.test("batch loss counts only what a mark covers: gaps opened later wait their own grace", () => {
  const loss = new BatchLoss({ graceMs: 1000 });
  feed(loss, 7, [1, 3]);
  loss.settle(0);
  feed(loss, 7, [5]);
  loss.settle(500);
  loss.settle(1000);
  // 2 is lost (behind 3, seen 1000 ms ago); 4 is behind 5, seen 500 ms ago.
  strictEqual(loss.counters().lost, 1);
  feed(loss, 7, [4]);
  loss.settle(2000);
  loss.finish();
  strictEqual(loss.counters().lost, 1);
  strictEqual(loss.counters().late, 0);
});

Deno.test("batch loss counts what is still missing at stop", () => {
  const loss = new BatchLoss();
  feed(loss, 7, [1, 2, 5]);
  loss.finish();
  strictEqual(loss.counters().lost, 2);
});

Deno.test("batch loss keeps processes apart, and a restarted process starts afresh", () => {
  const loss = new BatchLoss();
  feed(loss, 7, [1]);
  feed(loss, 8, [1]);
  feed(loss, 7, [3]);
  feed(loss, 8, [2, 3]);
  // pid 8 again, with another start time: another process, numbered from 1.
  feed(loss, 8, [1, 2], 2);
  loss.finish();
  deepStrictEqual(loss.counters().lostByService, { "svc-7": 1 });
  strictEqual(loss.counters().late, 0);
});

Deno.test("batch loss takes a sequence far behind as a new program in the same process (exec)", () => {
  const loss = new BatchLoss({ maxAhead: 64 });
  feed(loss, 7, range(1, 500));
  feed(loss, 7, [1, 2, 4]);
  loss.finish();
  deepStrictEqual(loss.counters(), {
    lost: 1,
    lostByService: { "svc-7": 1 },
    processes: 1,
    late: 0,
    reordered: 0,
  });
});

Deno.test("batch loss starts counting at the first batch it sees of a process", () => {
  // Batches before it may have been handed over while no probe was there.
  const loss = new BatchLoss();
  feed(loss, 7, [40, 39, 41]);
  loss.finish();
  deepStrictEqual(loss.counters(), {
    lost: 0,
    lostByService: {},
    processes: 0,
    late: 0,
    reordered: 0,
  });
});

Deno.test("batch loss bounds the batches it remembers ahead of a gap", () => {
  const loss = new BatchLoss({ maxAhead: 8 });
  feed(loss, 7, [1, ...range(3, 12)]);
  // Nine ahead of the gap at 2: the oldest half was settled, 2 is lost.
  strictEqual(loss.counters().lost, 1);
  loss.finish();
  strictEqual(loss.counters().lost, 1);
});

Deno.test("batch loss names at most maxServices services, the rest as other", () => {
  const loss = new BatchLoss({ maxServices: 2 });
  for (const pid of [1, 2, 3, 4]) feed(loss, pid, [1, 3]);
  feed(loss, 1, [5]);
  loss.finish();
  deepStrictEqual(loss.counters(), {
    lost: 5,
    lostByService: { "svc-1": 2, "svc-2": 1, [OTHER_SERVICES]: 2 },
    processes: 4,
    late: 0,
    reordered: 0,
  });
});

Deno.test("batch loss forgets the least recently heard of process past its bound", () => {
  const loss = new BatchLoss({ maxProcesses: 2 });
  feed(loss, 1, [1, 3]);
  feed(loss, 2, [1]);
  feed(loss, 3, [1]); // forgets pid 1 and its open gap, uncounted
  feed(loss, 1, [5]); // pid 1 again: a fresh count from 5
  loss.finish();
  strictEqual(loss.counters().lost, 0);
});

Deno.test("batch loss bounds the batches it remembers for all processes together", () => {
  const loss = new BatchLoss({ maxAheadTotal: 8 });
  feed(loss, 1, [1, 3, 4, 5, 6]);
  // The ninth remembered batch: pid 2's gaps count as lost now, pid 1's wait.
  feed(loss, 2, [1, 3, 4, 5, 6, 7]);
  strictEqual(loss.counters().lost, 1);
  feed(loss, 1, [2]);
  // Room again: pid 2 remembers batches ahead of a gap as before.
  feed(loss, 2, [9, 8]);
  loss.finish();
  deepStrictEqual(loss.counters().lostByService, { "svc-2": 1 });
  strictEqual(loss.counters().reordered, 2);
});

Deno.test("batch loss ignores sequences past 2^53, which only a forged header has", () => {
  const loss = new BatchLoss();
  feed(loss, 7, [1, 2 ** 60, 2]);
  loss.finish();
  strictEqual(loss.counters().lost, 0);
});
