import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { sampleSpans, sampleTraces } from "../../testing/traces.ts";
import { CORRUPT_REASONS, type CorruptReason, Decoder } from "./decoder.ts";
import {
  BATCH_HEADER_SIZE,
  encodeBatch,
  encodeRecord,
  HEADER_SIZE,
  MAX_PAYLOAD_CLASSES,
  readBatchHeader,
} from "./header.ts";
import { mutate, random, validPayloads } from "../../testing/mutations.ts";
import { traceScanner } from "./_scan_traces.ts";
import { LogsDataSchema } from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import { endedLayout } from "../wire/mod.ts";

const logsPayload = (records = sampleLogRecords(3)) =>
  encodeBatch(
    { seq: 5, signal: endedLayout.SIGNAL_LOGS },
    toBinary(LogsDataSchema, sampleLogs(records)),
  );

const payload = toBinary(TracesDataSchema, sampleTraces(sampleSpans(3)));
const record = (seq = 0, cpu = 0, body = payload) =>
  encodeRecord({ tgid: 100, pid: 101, cpu, seq }, body);

function onlyCorrupt(d: Decoder, reason: CorruptReason) {
  for (const r of CORRUPT_REASONS) {
    strictEqual(d.counters().corruptBy[r], r === reason ? 1 : 0, r);
  }
  strictEqual(d.counters().records, 0);
}

Deno.test("decoder decodes a valid record and counts it", () => {
  const d = new Decoder();
  const out = d.decode(record());
  ok(out);
  strictEqual(out.batch.items, 3);
  strictEqual(out.header.tgid, 100);
  // A bare TracesData, as an SDK older than the batch header sends it.
  strictEqual(out.seq, undefined);
  const data = out.batch.toTracesData();
  strictEqual(data.resourceSpans[0].scopeSpans[0].spans[1].name, "query 1");
  strictEqual(
    data.resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano,
    1732450000123456789n,
  );
  const { corruptBy, ...totals } = d.counters();
  deepStrictEqual(totals, {
    records: 1,
    bytes: payload.length,
    spans: 3,
    logRecords: 0,
    unsequenced: 1,
    corrupt: 0,
  });
  deepStrictEqual(Object.values(corruptBy), CORRUPT_REASONS.map(() => 0));
});

Deno.test("decoder strips the SDK's batch header and returns its sequence", () => {
  const d = new Decoder();
  const out = d.decode(
    record(0, 0, encodeBatch({ seq: 2 ** 40 + 7 }, payload)),
  );
  ok(out);
  strictEqual(out.seq, 2 ** 40 + 7);
  strictEqual(out.batch.items, 3);
  strictEqual(
    out.batch.toTracesData().resourceSpans[0].scopeSpans[0].spans[1].name,
    "query 1",
  );
  const { records, bytes, unsequenced, corrupt } = d.counters();
  deepStrictEqual({ records, bytes, unsequenced, corrupt }, {
    records: 1,
    bytes: BATCH_HEADER_SIZE + payload.length,
    unsequenced: 0,
    corrupt: 0,
  });
});

Deno.test("decoder tells of a corrupt headed batch's sequence (it arrived: not lost), of an unknown signal's too, of no other", () => {
  const seqs: (number | undefined)[] = [];
  const d = new Decoder({
    onCorrupt: (_reason, _detail, _header, seq) => seqs.push(seq),
  });
  const junk = Uint8Array.of(0x0a, 0xff, 0xff);
  d.decode(record(0, 0, encodeBatch({ seq: 9 }, junk)));
  d.decode(record(0, 0, junk));
  d.decode(record(0, 0, encodeBatch({ seq: 10, version: 9 }, payload)));
  // A signal this controller does not decode (a newer SDK's): its batch
  // arrived, and the process's one sequence must not show a gap for it.
  d.decode(record(0, 0, encodeBatch({ seq: 11, signal: 3 }, payload)));
  deepStrictEqual(seqs, [9, undefined, undefined, 11]);
});

Deno.test("the batch magic never begins a valid TracesData, so headed and bare batches are never confused", () => {
  // A headed batch is not a protobuf message: its first byte is a tag of
  // field number 0 ...
  const headed = encodeBatch({ seq: 1 }, payload);
  ok(
    !("spans" in traceScanner.scan(headed)),
    "a headed batch scanned as TracesData",
  );
  // ... so no valid TracesData, of all the test payloads, reads as headed.
  for (const valid of validPayloads()) {
    strictEqual(readBatchHeader(valid), undefined);
  }
});

Deno.test("decoder uses header.len, not the padded record length", () => {
  const padded = new Uint8Array(HEADER_SIZE + payload.length + 4096);
  padded.set(record());
  padded.fill(0xff, HEADER_SIZE + payload.length);
  const d = new Decoder();
  strictEqual(d.decode(padded)?.batch.items, 3);
});

Deno.test("decoder output does not alias the record buffer", () => {
  const buf = record();
  const out = new Decoder().decode(buf);
  buf.fill(0);
  deepStrictEqual([
    ...out!.batch.toTracesData().resourceSpans[0].scopeSpans[0].spans[0]
      .traceId,
  ], new Array(16).fill(1));
});

Deno.test("decoder accepts an empty TracesData", () => {
  const d = new Decoder();
  strictEqual(d.decode(record(0, 0, new Uint8Array()))?.batch.items, 0);
  strictEqual(d.counters().records, 1);
});

const corruptCases: [string, CorruptReason, () => Uint8Array][] = [
  [
    "a record shorter than the header",
    "short_record",
    () => record().subarray(0, HEADER_SIZE - 1),
  ],
  [
    "a wrong magic",
    "bad_magic",
    () =>
      encodeRecord(
        { magic: 0x31524254, tgid: 1, pid: 1, cpu: 0, seq: 0 },
        payload,
      ),
  ],
  [
    "a length past the record",
    "bad_length",
    () =>
      encodeRecord(
        { len: payload.length + 1, tgid: 1, pid: 1, cpu: 0, seq: 0 },
        payload,
      ),
  ],
  [
    "a payload over the limit",
    "too_large",
    () => record(0, 0, new Uint8Array(MAX_PAYLOAD_CLASSES + 1)),
  ],
  [
    "a payload that is not protobuf",
    "bad_protobuf",
    () => record(0, 0, Uint8Array.of(0x0a, 0xff, 0xff, 0xff)),
  ],
  [
    "a batch header cut short",
    "bad_batch_header",
    () => record(0, 0, encodeBatch({ seq: 1 }, payload).subarray(0, 10)),
  ],
  [
    "a batch header of an unknown version",
    "bad_batch_header",
    () => record(0, 0, encodeBatch({ seq: 1, version: 2 }, payload)),
  ],
  [
    "a batch header of a signal not decoded here (3, a newer SDK's)",
    "unknown_signal",
    () => record(0, 0, encodeBatch({ seq: 1, signal: 3 }, payload)),
  ],
  [
    "a headed batch whose message is not protobuf",
    "bad_protobuf",
    () =>
      record(0, 0, encodeBatch({ seq: 1 }, Uint8Array.of(0x0a, 0xff, 0xff))),
  ],
  ["a truncated payload", "bad_protobuf", () => {
    const r = record();
    return encodeRecord(
      { tgid: 1, pid: 1, cpu: 0, seq: 0 },
      r.subarray(HEADER_SIZE, r.length - 3),
    );
  }],
  ["a 15-byte trace id", "bad_trace_id", () => {
    const spans = sampleSpans(2);
    spans[1].traceId = new Uint8Array(15);
    return record(0, 0, toBinary(TracesDataSchema, sampleTraces(spans)));
  }],
  ["a 9-byte span id", "bad_span_id", () => {
    const spans = sampleSpans(2);
    spans[1].spanId = new Uint8Array(9);
    return record(0, 0, toBinary(TracesDataSchema, sampleTraces(spans)));
  }],
  ["a 4-byte parent span id", "bad_span_id", () => {
    const spans = sampleSpans(2);
    spans[1].parentSpanId = new Uint8Array(4);
    return record(0, 0, toBinary(TracesDataSchema, sampleTraces(spans)));
  }],
];

for (const [what, reason, make] of corruptCases) {
  Deno.test(`decoder counts ${what} as ${reason}`, () => {
    const seen: string[] = [];
    const d = new Decoder({
      onCorrupt: (r, detail) => seen.push(`${r}: ${detail}`),
    });
    strictEqual(d.decode(make()), undefined);
    onlyCorrupt(d, reason);
    strictEqual(seen.length, 1);
    ok(seen[0].startsWith(`${reason}: Cannot decode span record: `), seen[0]);
  });
}

Deno.test("decoder gives records with the same resource the same interned resource and key", () => {
  const d = new Decoder();
  const a = d.decode(record(1))!.batch.groups[0].resource;
  const b = d.decode(record(2))!.batch.groups[0].resource;
  ok(a !== undefined);
  strictEqual(a, b);
  strictEqual(typeof a.key, "string");
});

Deno.test("decoder honours a larger maxPayload", () => {
  const big = create(TracesDataSchema, sampleTraces(sampleSpans(4000)));
  const bytes = toBinary(TracesDataSchema, big);
  ok(bytes.length > MAX_PAYLOAD_CLASSES);
  strictEqual(new Decoder().decode(record(0, 0, bytes)), undefined);
  strictEqual(
    new Decoder({ maxPayloadBytes: 4 << 20 }).decode(record(0, 0, bytes))
      ?.batch.items,
    4000,
  );
});

Deno.test("decoder survives 12,000 random and mutated records, counting every bad one (fuzz)", () => {
  const seen: Record<string, number> = {};
  const d = new Decoder({
    onCorrupt: (reason) => seen[reason] = (seen[reason] ?? 0) + 1,
  });
  const rand = random(0x9e3779b9);
  const valid = validPayloads();
  const heapBefore = Deno.memoryUsage().heapUsed;
  const n = 12_000;
  let decoded = 0;
  for (let i = 0; i < n; i++) {
    const header = { tgid: 1, pid: 1, cpu: i % 4, seq: i };
    let r: Uint8Array;
    switch (i % 4) {
      case 0: { // the payload corrupted, behind a batch header or bare
        let body = mutate(valid[i % 3], rand).payload;
        if (rand() < 0.5) {
          const odd = () => rand() < 0.1 ? 2 + Math.floor(rand() * 250) : 1;
          body = encodeBatch({ seq: i, version: odd(), signal: odd() }, body);
          if (rand() < 0.05) body = body.subarray(0, 4 + rand() * 12);
        }
        r = encodeRecord(header, body);
        break;
      }
      case 1: { // the header or framing corrupted
        const body = valid[i % 3];
        const lie =
          [body.length + 1, 0xffffffff, MAX_PAYLOAD_CLASSES + 1][i % 3];
        r = rand() < 0.5
          ? encodeRecord({ ...header, len: lie }, body)
          : encodeRecord(header, body).subarray(0, Math.floor(rand() * 40));
        if (rand() < 0.3) r = encodeRecord({ ...header, magic: i }, body);
        if (i % 100 === 1) {
          r = encodeRecord(header, new Uint8Array(MAX_PAYLOAD_CLASSES + 1));
        }
        break;
      }
      case 2: // noise, with and without a header
        r = Uint8Array.from(
          { length: Math.floor(rand() * 300) },
          () => rand() * 256,
        );
        if (rand() < 0.5) r = encodeRecord(header, r);
        break;
      default: // valid, from an SDK with the batch header or an older one
        r = encodeRecord(
          header,
          rand() < 0.5 ? valid[i % 3] : encodeBatch({ seq: i }, valid[i % 3]),
        );
    }
    if (d.decode(r)) decoded++;
  }
  const { records, corrupt, corruptBy } = d.counters();
  strictEqual(records, decoded);
  strictEqual(decoded + corrupt, n);
  strictEqual(Object.values(corruptBy).reduce((a, b) => a + b, 0), corrupt);
  deepStrictEqual(
    seen,
    Object.fromEntries(
      Object.entries(corruptBy).filter(([, count]) => count > 0),
    ),
  );
  for (const reason of CORRUPT_REASONS) {
    ok(corruptBy[reason] > 0, `no record was counted as ${reason}`);
  }
  ok(decoded >= n / 4, `only ${decoded} of ${n} records were decoded`);
  // Nothing is allocated from declared sizes, and rejected records are not
  // kept: the heap grows by far less than the 3 GB of "huge" lengths seen.
  const grown = Deno.memoryUsage().heapUsed - heapBefore;
  ok(grown < 64 << 20, `the heap grew by ${grown} bytes`);
});

Deno.test("decoder reuses a record's copy only after its batch was released", () => {
  const large = toBinary(TracesDataSchema, sampleTraces(sampleSpans(2000)));
  ok(large.length > 128 << 10, "a record that gets a buffer of its own");
  const d = new Decoder();
  const bufferOf = (out: ReturnType<Decoder["decode"]>) =>
    out!.batch.groups[0].scopes[0].buffer;
  const a = d.decode(record(0, 0, large));
  const b = d.decode(record(1, 0, large));
  ok(bufferOf(a) !== bufferOf(b));
  a!.batch.release();
  const c = d.decode(record(2, 0, large));
  ok(bufferOf(c) === bufferOf(a), "reused once released");
  strictEqual(
    b!.batch.toTracesData().resourceSpans[0].scopeSpans[0].spans.length,
    2000,
  );
  // A corrupt record gives its copy back at once.
  const bad = large.slice();
  bad[bad.length - 1] ^= 0xff;
  b!.batch.release();
  strictEqual(
    d.decode(record(3, 0, bad.subarray(0, bad.length - 3))),
    undefined,
  );
  const e = d.decode(record(4, 0, large));
  ok(bufferOf(e) === bufferOf(b), "the corrupt record's copy went back too");
});

Deno.test("decoder decodes a logs batch by its header's signal and counts log records apart from spans", () => {
  const d = new Decoder();
  const records = sampleLogRecords(3);
  // A record written outside any span carries no trace context: valid.
  records.push(...sampleLogRecords(1, 1, false));
  const out = d.decode(record(0, 0, logsPayload(records)));
  ok(out);
  strictEqual(out.batch.signal, "logs");
  strictEqual(out.batch.items, 4);
  strictEqual(out.seq, 5);
  const logs = out.batch.toLogsData();
  strictEqual(
    logs.resourceLogs[0].scopeLogs[0].logRecords[2].body?.value.value,
    "line 2",
  );
  strictEqual(
    logs.resourceLogs[0].scopeLogs[0].logRecords[3].traceId.length,
    0,
  );
  strictEqual(out.batch.groups[0].resource?.key !== undefined, true);
  const { records: n, spans, logRecords, corrupt } = d.counters();
  deepStrictEqual({ n, spans, logRecords, corrupt }, {
    n: 1,
    spans: 0,
    logRecords: 4,
    corrupt: 0,
  });
  // The same resource bytes as a span record of the process: one interned resource.
  const traces = d.decode(record(0, 0, encodeBatch({ seq: 1 }, payload)))!;
  strictEqual(traces.batch.signal, "traces");
  strictEqual(
    traces.batch.groups[0].resource,
    out.batch.groups[0].resource,
  );
});

const badLogs: [
  string,
  CorruptReason,
  (r: ReturnType<typeof sampleLogRecords>) => void,
][] = [
  [
    "a 15-byte trace id",
    "bad_trace_id",
    (r) => r[1].traceId = new Uint8Array(15),
  ],
  ["a 7-byte span id", "bad_span_id", (r) => r[2].spanId = new Uint8Array(7)],
];
for (const [what, reason, spoil] of badLogs) {
  Deno.test(`decoder counts a log record with ${what} as ${reason}, with its batch's sequence and signal`, () => {
    const seen: unknown[] = [];
    const d = new Decoder({
      onCorrupt: (r, detail, _header, seq, signal) =>
        seen.push(r, detail.split(":")[0], seq, signal),
    });
    const records = sampleLogRecords(3);
    spoil(records);
    strictEqual(d.decode(record(0, 0, logsPayload(records))), undefined);
    onlyCorrupt(d, reason);
    deepStrictEqual(seen, [reason, "Cannot decode log record", 5, "logs"]);
  });
}

Deno.test("decoder counts a logs batch that is not LogsData as bad_protobuf", () => {
  const d = new Decoder();
  const junk = encodeBatch(
    { seq: 1, signal: endedLayout.SIGNAL_LOGS },
    Uint8Array.of(0x0a, 0xff, 0xff),
  );
  strictEqual(d.decode(record(0, 0, junk)), undefined);
  onlyCorrupt(d, "bad_protobuf");
});

Deno.test("decoder reads a lenient LogsData (a varint overflowing 64 bits) through the full decoder", () => {
  const d = new Decoder();
  // LogsData { resource_logs { scope_logs { log_records { severity_number
  // as a 10-byte varint overflowing 64 bits } } } }: fromBinary reads it,
  // protobuf-go refuses it.
  const record0 = [0x10, ...new Array(9).fill(0xff), 0x7f];
  const scope = [0x12, record0.length, ...record0];
  const resource = [0x12, scope.length, ...scope];
  const lenient = Uint8Array.of(0x0a, resource.length, ...resource);
  const out = d.decode(
    record(0, 0, encodeBatch({ seq: 1, signal: 2 }, lenient)),
  );
  ok(out);
  strictEqual(out.batch.signal, "logs");
  strictEqual(out.batch.items, 1);
  // Re-encoded, not forwarded.
  ok(out.batch.groups[0].scopes[0].length !== scope.length - 2);
});
