import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { create } from "@bufbuild/protobuf";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  sampleBatch,
  sampleSpans,
  sampleTraces,
} from "../../testing/traces.ts";
import {
  type EncodedResource,
  encodeResource,
  keyValue,
  OtlpBatch,
} from "../otlp/mod.ts";
import type { BatchOptions } from "./config.ts";
import type { Exporter, ExportOutcome } from "./exporter.ts";
import { type ExportProblem, ExportQueue, QueueBytes } from "./queue.ts";
import { maxResourceBytes } from "./resource_limits.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import { droppedBy } from "../../testing/controller_stats.ts";

const options: BatchOptions = {
  maxQueueSpans: 100,
  maxBatchSpans: 10,
  scheduleDelayMs: 20,
  maxConcurrentExports: 2,
  maxQueueBytes: 1 << 30,
  maxBatchBytes: 1 << 30,
  maxRequestBodyBytes: 1 << 30,
  maxResourceCacheBytes: 1 << 20,
};

/** An exporter that records requests and answers with `answer` (after `delayMs`). */
function fakeExporter(
  answer: (n: number) => ExportOutcome = () => ({ ok: true, rejected: 0 }),
  delayMs = 0,
) {
  const requests: { request: OtlpBatch; spans: number }[] = [];
  let shutdown = false;
  const exporter: Exporter = {
    export(request) {
      requests.push({ request, spans: request.items });
      const outcome = answer(requests.length);
      return new Promise((resolve) =>
        setTimeout(() => resolve(outcome), delayMs)
      );
    },
    shutdown() {
      shutdown = true;
      return Promise.resolve();
    },
  };
  return { exporter, requests, isShutdown: () => shutdown };
}

/** The ScopeSpans byte slices of a request, in order. */
function scopeSpansOf(request: OtlpBatch): Uint8Array[] {
  return request.groups.flatMap((rs) => rs.scopes);
}

const resource = encodeResource(create(ResourceSchema, {}));
function records(
  count: number,
  spansEach: number,
  resourceOf: (i: number) => EncodedResource = () => resource,
): OtlpBatch[] {
  return Array.from({ length: count }, (_, i) => {
    const batch = sampleBatch(sampleTraces(sampleSpans(spansEach, i + 1)));
    return new OtlpBatch(
      batch.groups.map((rs) => ({ ...rs, resource: resourceOf(i) })),
    );
  });
}

/** A merged resource of about `bytes` bytes, distinct for each `name`. */
function bigResource(name: string, bytes: number): EncodedResource {
  return encodeResource(create(ResourceSchema, {
    attributes: [
      keyValue("service.name", name),
      keyValue("process.command_args", "x".repeat(bytes)),
    ],
  }));
}

Deno.test("queue sends full batches at once and the rest after the delay", async () => {
  const fake = fakeExporter();
  const q = new ExportQueue(fake.exporter, options);
  for (const b of records(4, 3)) q.add(b);
  strictEqual(fake.requests.length, 1); // 9 spans queued, then 12 >= 10: one batch of 3 records
  strictEqual(fake.requests[0].spans, 9);
  // Records of one Resource object go out as one ResourceSpans.
  strictEqual(fake.requests[0].request.groups.length, 1);
  strictEqual(fake.requests[0].request.groups[0].scopes.length, 3);
  await new Promise((r) => setTimeout(r, 200));
  strictEqual(fake.requests.length, 2);
  strictEqual(fake.requests[1].spans, 3);
  await q.shutdown(1000);
  deepStrictEqual(q.counters(), {
    received: 12,
    exported: 12,
    dropped: 0,
    droppedBy: droppedBy(),
    queued: 0,
    queuedBytes: 0,
    inFlight: 0,
  });
  ok(fake.isShutdown());
});

Deno.test("queue drops and counts spans beyond its bound", async () => {
  const fake = fakeExporter(undefined, 50);
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxConcurrentExports: 1,
  });
  let accepted = 0;
  for (const b of records(30, 9)) if (q.add(b)) accepted++;
  const c = q.counters();
  strictEqual(c.received, 270);
  strictEqual(c.droppedBy.queue_full, 270 - accepted * 9);
  ok(c.queued <= 100);
  await q.shutdown(5000);
  const end = q.counters();
  strictEqual(end.exported, accepted * 9);
  strictEqual(end.exported + end.dropped, 270);
});

Deno.test("queue counts failed exports and partial successes as dropped", async () => {
  const problems: ExportProblem[] = [];
  const fake = fakeExporter((n) =>
    n === 1
      ? {
        ok: false,
        error: new Error("Cannot export spans to x: boom"),
        retryable: false,
      }
      : { ok: true, rejected: 2, message: "too old" }
  );
  const q = new ExportQueue(fake.exporter, options, (p) => problems.push(p));
  const [a, b] = records(2, 10);
  q.add(a);
  q.add(b);
  ok(await q.flush(1000));
  const c = q.counters();
  deepStrictEqual([
    c.exported,
    c.droppedBy.export_failed,
    c.droppedBy.rejected,
    c.dropped,
  ], [8, 10, 2, 12]);
  deepStrictEqual(problems.map((p) => [p.reason, p.spans]), [[
    "export_failed",
    10,
  ], ["rejected", 2]]);
  ok(problems[1].message.includes("refused 2 of 10 spans: too old"));
  await q.shutdown(100);
});

Deno.test("queue keeps spans of a retryable failure queued and sends them again after a backoff", async () => {
  const problems: ExportProblem[] = [];
  const unreachable = new Error(
    "Cannot export spans to x: connect ECONNREFUSED",
  );
  const fake = fakeExporter((n) =>
    n <= 2
      ? { ok: false, error: unreachable, retryable: true }
      : { ok: true, rejected: 0 }
  );
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxConcurrentExports: 1,
  }, (p) => problems.push(p));
  for (const b of records(3, 5)) q.add(b);
  const started = Date.now();
  ok(await q.flush(10_000));
  const elapsed = Date.now() - started;
  const c = q.counters();
  deepStrictEqual([c.exported, c.dropped, c.queued, c.inFlight], [15, 0, 0, 0]);
  // Backoff: 1 s after the first failure, 2 s after the second.
  ok(
    elapsed >= 2900,
    `sent again after ${elapsed} ms, expected >= 3 s of backoff`,
  );
  deepStrictEqual(problems.map((p) => p.reason), ["retrying", "retrying"]);
  ok(problems[1].message.includes("retrying in 2000 ms"));
  // The failed request went out again first, whole.
  deepStrictEqual(
    scopeSpansOf(fake.requests[1].request),
    scopeSpansOf(fake.requests[0].request),
  );
  await q.shutdown(100);
});

Deno.test("queue makes room for a retried request by dropping the newest spans", async () => {
  let fail = true;
  const fake = fakeExporter(() =>
    fail
      ? { ok: false, error: new Error("timed out"), retryable: true }
      : { ok: true, rejected: 0 }
  );
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxQueueSpans: 20,
    maxConcurrentExports: 1,
  });
  const [first, ...rest] = records(5, 10);
  q.add(first); // sent at once (a full batch), then fails
  await new Promise((r) => setTimeout(r, 10));
  strictEqual(q.counters().inFlight, 0);
  for (const b of rest) q.add(b); // 20 fit beside the retried 10? no: 10 + 20 > 20
  const c = q.counters();
  ok(c.queued <= 20, `queued ${c.queued} > bound`);
  strictEqual(c.received, 50);
  strictEqual(c.queued + c.dropped, 50);
  fail = false;
  ok(await q.flush(10_000));
  const end = q.counters();
  strictEqual(end.exported + end.dropped, 50);
  strictEqual(end.droppedBy.queue_full, end.dropped);
  const firstSent = scopeSpansOf(fake.requests[0].request);
  ok(
    fake.requests.slice(1).some((r) =>
      firstSent.every((ss, n) => scopeSpansOf(r.request)[n] === ss)
    ),
    "the failed request was not sent again",
  );
  await q.shutdown(100);
});

Deno.test("queue flush delivers everything received, past the batch size", async () => {
  const fake = fakeExporter(undefined, 5);
  const q = new ExportQueue(fake.exporter, {
    ...options,
    scheduleDelayMs: 60_000,
  });
  for (const b of records(9, 7)) q.add(b);
  ok(await q.flush(2000));
  strictEqual(q.counters().exported, 63);
  ok(fake.requests.every((r) => r.spans <= 10));
  await q.shutdown(100);
});

Deno.test("queue shutdown delivers what was received, then refuses more", async () => {
  const fake = fakeExporter(undefined, 10);
  const q = new ExportQueue(fake.exporter, {
    ...options,
    scheduleDelayMs: 60_000,
  });
  for (const b of records(5, 3)) q.add(b);
  await q.shutdown(2000);
  strictEqual(q.counters().exported, 15);
  strictEqual(q.add(records(1, 3)[0]), false);
  strictEqual(q.counters().droppedBy.shutdown, 3);
});

Deno.test("queue shutdown gives up at its timeout and counts what is left, in flight too", async () => {
  const fake = fakeExporter(undefined, 600);
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxConcurrentExports: 1,
    scheduleDelayMs: 60_000,
  });
  for (const b of records(3, 10)) q.add(b);
  const started = Date.now();
  await q.shutdown(100);
  // Well before the 600 ms export would have ended.
  ok(Date.now() - started < 500, `shutdown took ${Date.now() - started} ms`);
  const c = q.counters();
  strictEqual(c.inFlight, 0);
  strictEqual(c.droppedBy.shutdown, 20);
  strictEqual(c.droppedBy.in_flight, 10);
  strictEqual(c.received, c.exported + c.dropped, "balanced at once");
  await new Promise((r) => setTimeout(r, 700)); // let the slow export end before the test does
  deepStrictEqual(q.counters(), c, "a late answer changes no counter");
});

Deno.test("queue is bounded in bytes too, and says so when it drops", async () => {
  const fake = fakeExporter(undefined, 50);
  const problems: ExportProblem[] = [];
  const [first] = records(1, 5);
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxConcurrentExports: 1,
    maxBatchSpans: 1000,
    maxQueueSpans: 1000,
    scheduleDelayMs: 60_000,
    maxQueueBytes: first.bytes * 3,
  }, (p) => problems.push(p));
  // Room for the spans leaves room for a new resource too.
  deepStrictEqual(q.room(), {
    spans: 1000,
    bytes: Math.max(0, first.bytes * 3 - maxResourceBytes),
    empty: true,
  });
  const batches = records(5, 5);
  for (const b of batches) q.add(b);
  const c = q.counters();
  strictEqual(c.queued, 15);
  strictEqual(
    c.queuedBytes,
    batches.slice(0, 3).reduce((n, b) => n + b.bytes, 0),
  );
  strictEqual(c.droppedBy.queue_full, 10);
  // 5 spans in flight may come back for a retry.
  deepStrictEqual(q.room(), { spans: 985, bytes: 0, empty: false });
  strictEqual(c.inFlight, 0);
  deepStrictEqual(problems.map((p) => [p.reason, p.spans]), [
    ["queue_full", 5],
    ["queue_full", 5],
  ]);
  ok(/SPANBRIDGE_MAX_QUEUE_BYTES/.test(problems[0].message));
  await q.shutdown(1000);
  strictEqual(q.counters().exported, 15);
});

Deno.test("queue takes a record over its bounds when empty, and only then", async () => {
  const fake = fakeExporter(undefined, 50);
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxQueueSpans: 10,
    maxBatchSpans: 10,
    scheduleDelayMs: 60_000,
  });
  const [big, second] = records(2, 25);
  strictEqual(q.add(big), true, "alone in an empty queue");
  strictEqual(q.add(second), false);
  await q.shutdown(1000);
  const c = q.counters();
  deepStrictEqual([c.exported, c.droppedBy.queue_full], [25, 25]);
});

Deno.test("queue keeps export requests within maxBatchBytes", async () => {
  const fake = fakeExporter();
  const batches = records(6, 4);
  // Two records in one request: their ScopeSpans and the group's framing.
  const maxBatchBytes = batches[0].toBinary().length * 2 + 6;
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxBatchSpans: 1000,
    maxQueueSpans: 1000,
    maxBatchBytes,
  });
  for (const b of batches) q.add(b);
  await q.flush(1000);
  deepStrictEqual(fake.requests.map((r) => r.spans), [8, 8, 8]);
  ok(fake.requests.every((r) => r.request.toBinary().length <= maxBatchBytes));
  await q.shutdown(100);
});

/**
 * A queue bounded at 1 MiB and 1000 spans that sends only when flushed, one
 * request at a time.
 */
const oneMiB = {
  ...options,
  maxConcurrentExports: 1,
  maxBatchSpans: 1000,
  maxQueueSpans: 1000,
  scheduleDelayMs: 60_000,
  maxQueueBytes: 1 << 20,
};

Deno.test("queue counts resource bytes in maxQueueBytes, each resource object once", async () => {
  const fake = fakeExporter(undefined, 50);
  // A distinct 200 KB resource per record: five fit in 1 MiB, not twenty.
  const distinct = new ExportQueue(fake.exporter, oneMiB);
  const accepted = records(20, 2, (i) => bigResource(`p${i}`, 200_000))
    .filter((b) => distinct.add(b)).length;
  ok(accepted <= 6, `${accepted} records of 200 KB resources queued`);
  ok(distinct.counters().queuedBytes <= 1 << 20);
  strictEqual(distinct.counters().droppedBy.queue_full, (20 - accepted) * 2);
  // One resource object shared by twenty records counts once.
  const shared = bigResource("one", 200_000);
  const one = new ExportQueue(fake.exporter, oneMiB);
  const batches = records(20, 2, () => shared);
  for (const b of batches) strictEqual(one.add(b), true);
  strictEqual(
    one.counters().queuedBytes,
    batches.reduce((n, b) => n + b.bytes, shared.bytes.length),
  );
  await distinct.shutdown(1000);
  await one.shutdown(1000);
  strictEqual(one.counters().queuedBytes, 0);
  strictEqual(one.counters().exported, 40);
});

Deno.test("queues that share a QueueBytes hold maxQueueBytes together: one signal's bytes leave less room for the other's", async () => {
  const fake = fakeExporter(undefined, 50);
  const bytes = new QueueBytes(oneMiB.maxQueueBytes);
  const spans = new ExportQueue(
    fake.exporter,
    oneMiB,
    () => {},
    "traces",
    bytes,
  );
  const logs = new ExportQueue(fake.exporter, oneMiB, () => {}, "logs", bytes);
  const roomBefore = logs.room().bytes;
  // Three records of 200 KB resources in the span queue...
  for (const b of records(3, 2, (i) => bigResource(`s${i}`, 200_000))) {
    strictEqual(spans.add(b), true);
  }
  const held = spans.counters().queuedBytes;
  ok(held > 600_000, `${held} bytes of spans`);
  strictEqual(logs.room().bytes, roomBefore - held, "the log queue's room");
  // ...and the log queue, empty, takes only what is left of the oneMiB.
  let accepted = 0;
  for (const b of records(10, 2, (i) => bigResource(`l${i}`, 200_000))) {
    if (logs.add(b)) accepted++;
  }
  strictEqual(accepted, 2, "log records of 200 KB resources queued");
  ok(bytes.queued <= oneMiB.maxQueueBytes, `${bytes.queued} bytes queued`);
  strictEqual(logs.counters().droppedBy.queue_full, 8 * 2);
  // Alone, the log queue would have taken five.
  const alone = new ExportQueue(fake.exporter, oneMiB, () => {}, "logs");
  accepted = 0;
  for (const b of records(10, 2, (i) => bigResource(`a${i}`, 200_000))) {
    if (alone.add(b)) accepted++;
  }
  strictEqual(accepted, 5);
  await Promise.all([spans, logs, alone].map((q) => q.shutdown(1000)));
});

Deno.test("queue takes every record that fits room(), whatever resource it brings", async () => {
  const fake = fakeExporter(undefined, 50);
  const q = new ExportQueue(fake.exporter, oneMiB);
  // As the controller does: a record is read only while its spans fit.
  let taken = 0;
  for (const b of records(100, 2, (i) => bigResource(`p${i}`, 60_000))) {
    const room = q.room();
    if (!room.empty && b.bytes > room.bytes) break;
    strictEqual(q.add(b), true, `record ${taken}`);
    taken++;
  }
  ok(taken > 5, `${taken} records`);
  ok(q.counters().queuedBytes <= 1 << 20);
  await q.shutdown(1000);
  strictEqual(q.counters().dropped, 0);
});

Deno.test("queue splits requests to stay under maxRequestBodyBytes with resources counted, dropping only a record too large alone", async () => {
  const fake = fakeExporter();
  const problems: ExportProblem[] = [];
  const limit = 1 << 20;
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxBatchSpans: 1000,
    maxQueueSpans: 1000,
    scheduleDelayMs: 60_000,
    maxBatchBytes: limit,
    maxRequestBodyBytes: limit,
  }, (p) => problems.push(p));
  // Fifteen processes with 300 KB resources, an innocent small one among
  // them, and one record whose resource alone is over the limit.
  const heavy = records(15, 3, (i) => bigResource(`heavy${i}`, 300_000));
  const [innocent] = records(1, 3, () => bigResource("innocent", 10));
  const [huge] = records(1, 3, () => bigResource("huge", limit));
  for (const b of heavy.slice(0, 7)) q.add(b);
  strictEqual(q.add(huge), false);
  q.add(innocent);
  for (const b of heavy.slice(7)) q.add(b);
  ok(await q.flush(1000));
  ok(fake.requests.length >= 5, `${fake.requests.length} requests`);
  for (const { request } of fake.requests) {
    const size = request.toBinary().length;
    ok(size <= limit, `a request of ${size} bytes`);
  }
  const c = q.counters();
  deepStrictEqual([c.exported, c.dropped, c.droppedBy.too_large], [48, 3, 3]);
  deepStrictEqual(problems.map((p) => [p.reason, p.spans]), [["too_large", 3]]);
  ok(/SPANBRIDGE_MAX_REQUEST_BODY_BYTES/.test(problems[0].message));
  await q.shutdown(100);
});

Deno.test("a single record larger than the batch size goes alone", async () => {
  const fake = fakeExporter();
  const q = new ExportQueue(fake.exporter, options);
  q.add(records(1, 25)[0]);
  await q.flush(1000);
  deepStrictEqual(fake.requests.map((r) => r.spans), [25]);
  await q.shutdown(100);
});

Deno.test("queue keeps no reference to a batch once it is sent", async () => {
  // A full GC on demand: node:v8 can expose it to a new context at run time.
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const q = new ExportQueue({
    export: () => Promise.resolve({ ok: true, rejected: 0 }),
    shutdown: () => Promise.resolve(),
  }, options);
  const sent = (() => {
    const [batch] = records(1, 3);
    q.add(batch);
    return new WeakRef(batch);
  })();
  await q.flush(1000);
  await new Promise((r) => setTimeout(r, 0));
  gc();
  // Before: the sent slots stayed in the queue's array until more than 1 024
  // had been sent, so large records kept hundreds of MiB alive.
  strictEqual(sent.deref(), undefined);
  strictEqual(q.counters().exported, 3);
  await q.shutdown(1000);
});

/** Records whose release() is counted per record. */
function tracked(count: number, spansEach: number) {
  const released: number[] = Array(count).fill(0);
  const batches = records(count, spansEach).map((b, i) =>
    new OtlpBatch(b.groups, b.items, () => released[i]++)
  );
  return { batches, released };
}

/** An exporter whose requests are answered by the test. */
function manualExporter() {
  const pending: ((outcome: ExportOutcome) => void)[] = [];
  const exporter: Exporter = {
    export: () => new Promise((resolve) => pending.push(resolve)),
    shutdown: () => Promise.resolve(),
  };
  return { exporter, pending };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("queue releases a record's memory only once its request is answered", async () => {
  const fake = manualExporter();
  const q = new ExportQueue(fake.exporter, options);
  const { batches, released } = tracked(2, 5);
  for (const b of batches) q.add(b);
  strictEqual(fake.pending.length, 1, "one full request in flight");
  await tick();
  deepStrictEqual(released, [0, 0], "not while the request is in flight");
  fake.pending[0]({ ok: true, rejected: 1 });
  await tick();
  deepStrictEqual(released, [1, 1]);
  await q.shutdown(100);
  deepStrictEqual(released, [1, 1], "released once");
});

Deno.test("queue keeps a retried request's records until the retry is answered", async () => {
  const fake = manualExporter();
  const q = new ExportQueue(fake.exporter, options);
  const { batches, released } = tracked(2, 5);
  for (const b of batches) q.add(b);
  fake.pending[0]({ ok: false, error: new Error("503"), retryable: true });
  await tick();
  deepStrictEqual(released, [0, 0], "queued again, not released");
  const flushed = q.flush(5000);
  while (fake.pending.length < 2) await new Promise((r) => setTimeout(r, 50));
  await tick();
  deepStrictEqual(released, [0, 0], "in flight again");
  fake.pending[1]({ ok: true, rejected: 0 });
  ok(await flushed);
  deepStrictEqual(released, [1, 1]);
  await q.shutdown(100);
});

Deno.test("queue releases the records it drops: refused, full, at shutdown, in flight at the deadline", async () => {
  const fake = manualExporter();
  const q = new ExportQueue(fake.exporter, {
    ...options,
    maxQueueSpans: 20,
    maxConcurrentExports: 1,
    scheduleDelayMs: 60_000,
  });
  const { batches, released } = tracked(6, 10);
  q.add(batches[0]); // request 1
  q.add(batches[1]);
  q.add(batches[2]); // queued
  strictEqual(q.add(batches[3]), false, "full");
  deepStrictEqual(released, [0, 0, 0, 1, 0, 0]);
  fake.pending[0]({ ok: false, error: new Error("400"), retryable: false });
  await tick();
  deepStrictEqual(released, [1, 0, 0, 1, 0, 0], "a refused request");
  strictEqual(fake.pending.length, 2, "record 1 went out next");
  const c = q.counters();
  deepStrictEqual([c.queued, c.inFlight], [10, 10]);
  await q.shutdown(50);
  deepStrictEqual(
    released,
    [1, 0, 1, 1, 0, 0],
    "the queued one at shutdown; the one in flight is still being sent",
  );
  strictEqual(q.add(batches[4]), false);
  deepStrictEqual(released, [1, 0, 1, 1, 1, 0], "added after shutdown");
  fake.pending[1]({ ok: true, rejected: 0 });
  await tick();
  deepStrictEqual(released, [1, 1, 1, 1, 1, 0], "its late answer");
  const end = q.counters();
  strictEqual(end.received, end.exported + end.dropped);
});

Deno.test("a queue of logs sends logs requests, names log records and OTEL_BLRP_* in its problems, and balances", async () => {
  const fake = fakeExporter(
    (n) =>
      n === 1
        ? { ok: true, rejected: 2, message: "old" }
        : { ok: true, rejected: 0 },
    50,
  );
  const problems: ExportProblem[] = [];
  const q = new ExportQueue(
    fake.exporter,
    { ...options, maxConcurrentExports: 1 },
    (p) => problems.push(p),
    "logs",
  );
  const logs = Array.from(
    { length: 30 },
    (_, i) => OtlpBatch.fromLogsData(sampleLogs(sampleLogRecords(9, i + 1))),
  );
  for (const batch of logs) q.add(batch);
  await q.shutdown(5000);
  ok(fake.requests.length > 0);
  for (const { request } of fake.requests) strictEqual(request.signal, "logs");
  const c = q.counters();
  strictEqual(c.received, 270);
  strictEqual(c.exported + c.dropped, 270);
  strictEqual(c.droppedBy.rejected, 2);
  ok(c.droppedBy.queue_full > 0);
  const full = problems.find((p) => p.reason === "queue_full")!;
  strictEqual(full.signal, "logs");
  ok(
    full.message.includes(
      "log records dropped: raise OTEL_BLRP_MAX_QUEUE_SIZE",
    ),
    full.message,
  );
  const refused = problems.find((p) => p.reason === "rejected")!;
  ok(
    refused.message.startsWith("The receiver refused 2 of 9 log records: old"),
    refused.message,
  );
});
