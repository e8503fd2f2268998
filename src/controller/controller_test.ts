// The data path's backpressure and stop logic on a fake probe (its ring
// filled with records made here) and a fake sink with a bounded queue: no
// root, no kernel. tests/backpressure_test.ts and tests/stop_test.ts run the
// same logic on the real probe.
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { categoryOf, EnvironmentError, UsageError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { encodeBatch, encodeRecord } from "../decode/mod.ts";
import type { ExportCounters, ExportSink } from "../export/mod.ts";
import { sampleSpans, sampleTraces } from "../../testing/traces.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import { droppedBy, probeCounters } from "../../testing/controller_stats.ts";
import { LogsDataSchema } from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { endedLayout } from "../wire/mod.ts";
import type {
  Probe,
  ProbeCounters,
  ProbeOptions,
  RingReader,
} from "../probe/mod.ts";
import { Controller, type ControllerOptions } from "./controller.ts";

/** A pid no process has (the largest Linux hands out): its spans are described by the pid alone. */
const tgid = 4_194_303;

/** Ring records of `spans` spans each, with the SDK's batch sequence 0, 1, ... */
function records(...spans: number[]): Uint8Array[] {
  return spans.map((n, seq) =>
    encodeRecord(
      { tgid, pid: tgid, cpu: 0, seq },
      encodeBatch(
        { seq },
        toBinary(TracesDataSchema, sampleTraces(sampleSpans(n))),
      ),
    )
  );
}

/** A ring buffer holding records put in by the test. */
class FakeRing implements RingReader {
  readonly size = 1 << 20;
  readonly records: Uint8Array[];
  closed = false;

  constructor(records: Uint8Array[]) {
    this.records = [...records];
  }

  wait(timeoutMs: number): Promise<boolean> {
    if (this.records.length > 0) return Promise.resolve(true);
    return new Promise((resolve) =>
      setTimeout(() => resolve(this.records.length > 0), timeoutMs)
    );
  }

  drain(onRecord: (record: Uint8Array) => void, maxRecords = Infinity): number {
    let n = 0;
    while (n < maxRecords && this.records.length > 0) {
      onRecord(this.records.shift()!);
      n++;
    }
    return n;
  }

  waitingBytes(): number {
    return this.records.reduce((sum, r) => sum + r.length, 0);
  }

  close(): void {
    this.closed = true;
  }
}

/** A probe over a {@linkcode FakeRing}: nothing is loaded, attached or pinned. */
class FakeProbe implements Probe {
  readonly kind = "dynptr";
  readonly maxRecordBytes = 1 << 20;
  readonly ringBytes: number;
  readonly attachMode = undefined;
  readonly pinDir = "/nonexistent/fake-probe";
  readonly reader: FakeRing;
  readonly probeCounters: ProbeCounters = probeCounters();
  /** Thrown by setPidFilter, to fail the start after the probe opened. */
  failFilter: Error | undefined;
  closed = false;

  constructor(ring: FakeRing) {
    this.reader = ring;
    this.ringBytes = ring.size;
  }

  attach(): never {
    throw new Error("the fake probe attaches to nothing");
  }

  releaseUnclaimed(): number {
    return 0;
  }

  setPidFilter(): void {
    if (this.failFilter) throw this.failFilter;
  }

  counters(): ProbeCounters {
    return { ...this.probeCounters };
  }

  close(): void {
    this.closed = true;
    this.reader.close();
  }
}

/**
 * An export queue of `capacity` spans (bytes are not the bound here) whose
 * exporter sends only when told: {@linkcode FakeSink.send} or, with
 * `sendOnFlush`, a flush. Like the real queue it takes a record larger than
 * itself when empty, and drops (and counts) what does not fit.
 */
class FakeSink implements ExportSink {
  readonly capacity: number;
  readonly sendOnFlush: boolean;
  received = 0;
  exported = 0;
  dropped = 0;
  queued = 0;
  /** add() calls of spans, in spans. */
  readonly adds: number[] = [];
  /** Log records added (they go to a queue of their own, always delivered here). */
  logRecords = 0;

  constructor(capacity: number, options: { sendOnFlush?: boolean } = {}) {
    this.capacity = capacity;
    this.sendOnFlush = options.sendOnFlush ?? false;
  }

  add(batch: { items: number; signal: string; release(): void }): void {
    if (batch.signal === "logs") {
      this.logRecords += batch.items;
      batch.release();
      return;
    }
    this.received += batch.items;
    this.adds.push(batch.items);
    if (this.queued > 0 && this.queued + batch.items > this.capacity) {
      this.dropped += batch.items;
    } else {
      this.queued += batch.items;
    }
    batch.release();
  }

  room(): { spans: number; bytes: number; empty: boolean } {
    return {
      spans: Math.max(0, this.capacity - this.queued),
      bytes: 1 << 30,
      empty: this.queued === 0,
    };
  }

  /** The exporter delivers everything queued. */
  send(): void {
    this.exported += this.queued;
    this.queued = 0;
  }

  counters(): ExportCounters {
    return {
      received: this.received,
      exported: this.exported,
      dropped: this.dropped,
      droppedBy: {
        queue_full: this.dropped,
        too_large: 0,
        export_failed: 0,
        rejected: 0,
        shutdown: 0,
        in_flight: 0,
      },
      queued: this.queued,
      queuedBytes: 0,
      inFlight: 0,
    };
  }

  logCounters(): ExportCounters {
    return {
      ...this.counters(),
      received: this.logRecords,
      exported: this.logRecords,
      dropped: 0,
      droppedBy: droppedBy(),
      queued: 0,
    };
  }

  async flush(timeoutMs = 0): Promise<boolean> {
    if (this.sendOnFlush) this.send();
    // A stuck exporter: the flush waits its time out.
    else await new Promise((resolve) => setTimeout(resolve, timeoutMs));
    return this.queued === 0;
  }

  shutdown(): Promise<void> {
    this.dropped += this.queued;
    this.queued = 0;
    return Promise.resolve();
  }
}

/** No targets: the controller attaches to nothing and reads what the fake ring holds. */
const options: ControllerOptions = {
  targets: { exes: [], pids: [] },
  probe: { name: "controller-test" },
  pollMs: 5,
  stopDrainMs: 5_000,
};

/** Starts a controller on `probe`, checking that it is handed the options' probe part whole. */
function start(
  probe: FakeProbe,
  sink: ExportSink,
  overrides: Partial<ControllerOptions> = {},
  log: Logger = silentLogger,
): Promise<Controller> {
  const given = { ...options, ...overrides };
  return Controller.start(given, {
    sink,
    log,
    openProbe: (probeOptions: ProbeOptions) => {
      assert.equal(probeOptions, given.probe);
      return Promise.resolve(probe);
    },
  });
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The reader loop has had time for several rounds. */
const rounds = () => new Promise((resolve) => setTimeout(resolve, 50));

Deno.test("a full queue leaves the records in the ring, and they follow as the queue drains, none dropped", async () => {
  const ring = new FakeRing(records(...Array(10).fill(3)));
  const probe = new FakeProbe(ring);
  const sink = new FakeSink(10);
  const controller = await start(probe, sink);
  try {
    await until("the queue is full", () => sink.queued === 9);
    await rounds();
    // Three records fit (9 spans); the other seven wait in the ring, not
    // dropped and not read.
    assert.deepEqual(sink.adds, [3, 3, 3]);
    assert.equal(ring.records.length, 7);
    assert.equal(controller.stats().decode.spans, 9);
    assert.equal(sink.dropped, 0);
    // Each time the exporter sends, the next records come out of the ring.
    while (sink.received < 30) {
      sink.send();
      const before = sink.received;
      await until("more records are read", () => sink.received > before);
    }
    assert.equal(ring.records.length, 0);
  } finally {
    await controller.stop();
  }
  const stats = controller.stats();
  assert.equal(stats.decode.spans, 30);
  assert.equal(stats.export.received, 30);
  assert.equal(stats.export.dropped, 0);
  assert.equal(stats.batchLoss.lost, 0);
});

Deno.test("a record larger than the whole queue is read once the queue is empty, not left in the ring", async () => {
  const ring = new FakeRing(records(2, 8));
  const sink = new FakeSink(5);
  const controller = await start(new FakeProbe(ring), sink);
  try {
    await until("the first record is queued", () => sink.queued === 2);
    await rounds();
    // Read (the decoder saw it) but held: it fits in no queue with room for 3.
    assert.deepEqual(sink.adds, [2]);
    assert.equal(controller.stats().decode.spans, 10);
    sink.send();
    await until("the large record is queued alone", () => sink.queued === 8);
    assert.deepEqual(sink.adds, [2, 8]);
    assert.equal(sink.dropped, 0);
  } finally {
    await controller.stop();
  }
});

Deno.test("stop moves what the ring holds into the queue as it drains, dropping nothing", async () => {
  const ring = new FakeRing(records(...Array(10).fill(3)));
  const probe = new FakeProbe(ring);
  // The exporter sends only when stop() waits for it.
  const sink = new FakeSink(10, { sendOnFlush: true });
  const controller = await start(probe, sink);
  await until("the queue is full", () => sink.queued === 9);
  await controller.stop();
  assert.equal(ring.records.length, 0);
  assert.ok(probe.closed, "the probe is closed at stop");
  const stats = controller.stats();
  assert.equal(stats.decode.spans, 30);
  assert.equal(stats.export.received, 30);
  assert.equal(stats.export.dropped, 0);
  assert.equal(
    stats.export.exported + stats.export.queued,
    30,
    "every span read was handed on",
  );
  assert.equal(stats.batchLoss.lost, 0);
});

Deno.test("stop reads everything once its drain time is up: what the stuck queue cannot take is dropped, and the counters balance", async () => {
  // 1 + 1 fit; the 9-span record is read but held (room 8 after them), and
  // the 4 read with it waits behind it; the last stays in the ring while the
  // exporter is stuck.
  const ring = new FakeRing(records(1, 1, 9, 4, 5));
  const probe = new FakeProbe(ring);
  const sink = new FakeSink(10);
  const controller = await start(probe, sink, { stopDrainMs: 30 });
  await until("the queue has the first records", () => sink.queued === 2);
  await rounds();
  assert.deepEqual(sink.adds, [1, 1]);
  assert.equal(ring.records.length, 1, "the last record waits in the ring");
  const readBeforeStop = controller.stats().decode.spans;
  assert.equal(readBeforeStop, 15, "the held records were read");

  const stopping = Date.now();
  await controller.stop();
  assert.ok(Date.now() - stopping >= 30, "stop waited its drain time");
  assert.equal(ring.records.length, 0, "nothing is left in the ring");
  assert.ok(probe.closed);
  const stats = controller.stats();
  // The held records go first, then the ring's: in the order read. The
  // queue takes what fits (2 + 4) and drops the rest.
  assert.deepEqual(sink.adds, [1, 1, 9, 4, 5]);
  assert.equal(stats.decode.spans, 20);
  assert.equal(stats.export.received, stats.decode.spans);
  assert.equal(stats.export.dropped, 14);
  assert.equal(
    stats.decode.spans,
    stats.export.exported + stats.export.dropped + stats.export.queued +
      stats.export.inFlight,
    "received = exported + dropped + in flight at stop",
  );
  assert.equal(stats.batchLoss.lost, 0);
  // The sink's owner decides how long delivery may take: stop does not
  // shut it down.
  assert.equal(sink.queued, 6);
});

Deno.test("a probe that cannot be opened fails the start with its own error and category", async () => {
  for (
    const err of [
      new EnvironmentError(
        "Cannot load the probe: bpftool is not installed; install it.",
      ),
      new UsageError('Cannot start: instance "x" is in use.'),
    ]
  ) {
    const sink = new FakeSink(10);
    const started = Controller.start(options, {
      sink,
      log: silentLogger,
      openProbe: () => Promise.reject(err),
    });
    await assert.rejects(started, (e) => e === err);
    assert.equal(categoryOf(err), err.category);
    assert.equal(sink.received, 0);
  }
});

Deno.test("a target that cannot be resolved fails the start as a target error before any probe is opened", async () => {
  let opened = false;
  await assert.rejects(
    Controller.start({
      ...options,
      targets: { exes: ["/nonexistent/controller-test/app"], pids: [] },
    }, {
      sink: new FakeSink(10),
      log: silentLogger,
      openProbe: () => {
        opened = true;
        return Promise.resolve(new FakeProbe(new FakeRing([])));
      },
    }),
    (e) => categoryOf(e) === "target",
  );
  assert.equal(opened, false);
});

Deno.test("a failure after the probe opened closes it before the error is thrown", async () => {
  const probe = new FakeProbe(new FakeRing([]));
  probe.failFilter = new EnvironmentError("Cannot set the pid filter: EPERM.");
  await assert.rejects(
    start(probe, new FakeSink(10)),
    (e) => e === probe.failFilter,
  );
  assert.ok(probe.closed, "the probe is closed");
});

Deno.test("log batches go to the sink's log queue, their sequence shared with the spans': no false gap, a real one counted, an unknown signal's not", async () => {
  const logs = (seq: number, signal = endedLayout.SIGNAL_LOGS) =>
    encodeRecord(
      { tgid, pid: tgid, cpu: 0, seq },
      encodeBatch(
        { seq, signal },
        toBinary(LogsDataSchema, sampleLogs(sampleLogRecords(4))),
      ),
    );
  const spans = (seq: number) =>
    encodeRecord(
      { tgid, pid: tgid, cpu: 0, seq },
      encodeBatch(
        { seq },
        toBinary(TracesDataSchema, sampleTraces(sampleSpans(3))),
      ),
    );
  // One sequence for the process: spans 1, 3, 6; logs 2, 4; 5 of a signal
  // this controller does not decode; 7 never arrives; spans 8.
  const ring = new FakeRing([
    spans(1),
    logs(2),
    spans(3),
    logs(4),
    logs(5, 9),
    spans(6),
    spans(8),
  ]);
  const sink = new FakeSink(100, { sendOnFlush: true });
  const controller = await start(new FakeProbe(ring), sink);
  await until("the ring is read", () => ring.records.length === 0);
  await controller.stop();
  const stats = controller.stats();
  assert.deepEqual(
    [stats.decode.spans, stats.decode.logRecords, sink.logRecords],
    [12, 8, 8],
  );
  assert.equal(stats.logExport.received, 8);
  assert.equal(stats.decode.corruptBy.unknown_signal, 1);
  assert.equal(stats.batchLoss.lost, 1, JSON.stringify(stats.batchLoss));
});
