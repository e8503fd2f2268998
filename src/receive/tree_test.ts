import { strictEqual } from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  Span_EventSchema,
  Status_StatusCode,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { attr, id, sampleSpans, sampleTraces } from "../../testing/traces.ts";
import { formatTraces } from "./tree.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";

Deno.test("formatTraces draws a trace as a tree with durations", () => {
  const spans = sampleSpans(3);
  spans[0].endTimeUnixNano = spans[0].startTimeUnixNano + 12_345_678n;
  spans[0].attributes = [
    attr("http.method", "GET"),
    attr("http.route", "/"),
    attr("a", "1"),
    attr("b", "2"),
  ];
  spans[2].parentSpanId = spans[1].spanId;
  spans[2].status = {
    $typeName: "opentelemetry.proto.trace.v1.Status",
    code: Status_StatusCode.ERROR,
    message: "no rows",
  };
  spans[2].events.push(
    create(Span_EventSchema, { name: "retry" }),
    create(Span_EventSchema, { name: "retry" }),
  );
  strictEqual(
    formatTraces(sampleTraces(spans)),
    `trace ${"01".repeat(16)}  3 spans, 12.346 ms
└─ GET /  [demo]  SERVER  12.346 ms  OK  http.method=GET  http.route=/  a=1  …
   └─ query 1  [demo]  CLIENT  1.500 ms  db.system=sqlite
      └─ query 2  [demo]  CLIENT  1.500 ms  ERROR "no rows"  db.system=sqlite  (2 events)
`,
  );
});

Deno.test("formatTraces groups by trace and marks spans whose parent is missing", () => {
  const a = sampleSpans(2, 1);
  const b = sampleSpans(1, 2);
  b[0].parentSpanId = id(8, 9);
  b[0].attributes = [attr("note", "x".repeat(60))];
  const text = formatTraces(sampleTraces([a[1], ...b, a[0]], "svc"));
  strictEqual(
    text,
    `trace ${"01".repeat(16)}  2 spans, 1.500 ms
└─ GET /  [svc]  SERVER  1.500 ms  OK  db.system=sqlite
   └─ query 1  [svc]  CLIENT  1.500 ms  db.system=sqlite
trace ${"02".repeat(16)}  1 span, 1.500 ms
└─ ↑ GET /  [svc]  SERVER  1.500 ms  OK  note=${"x".repeat(39)}…
`,
  );
});

Deno.test("formatTraces puts each log record under the span it was written in, the rest under their trace or by service", () => {
  const spans = sampleSpans(3);
  spans[2].parentSpanId = spans[1].spanId;
  // Records 0..2 in spans 0..2 (two in span 1, listed out of time order).
  const records = sampleLogRecords(3);
  const second = sampleLogRecords(2)[1];
  second.timeUnixNano = records[1].timeUnixNano - 1n;
  second.body = {
    $typeName: "opentelemetry.proto.common.v1.AnyValue",
    value: { case: "stringValue", value: "first\nof two" },
  };
  second.severityText = "WARN";
  second.eventName = "cache.miss";
  // One in a span not in the batch, one of a trace without spans, and one
  // outside any span.
  const elsewhere = sampleLogRecords(1)[0];
  elsewhere.spanId = id(8, 7);
  const otherTrace = sampleLogRecords(1, 5)[0];
  const outside = sampleLogRecords(1, 1, false)[0];
  outside.body = {
    $typeName: "opentelemetry.proto.common.v1.AnyValue",
    value: { case: "stringValue", value: "starting" },
  };
  const logs = sampleLogs([...records, second, elsewhere, otherTrace]);
  logs.resourceLogs.push(...sampleLogs([outside], "worker").resourceLogs);
  strictEqual(
    formatTraces(sampleTraces(spans), {}, logs),
    `trace ${"01".repeat(16)}  3 spans, 1.500 ms
↑ span ${"07".repeat(8)} · INFO  line 0  [demo]  user=u0
└─ GET /  [demo]  SERVER  1.500 ms  OK  db.system=sqlite
   · INFO  line 0  [demo]  user=u0
   └─ query 1  [demo]  CLIENT  1.500 ms  db.system=sqlite
      · WARN  event=cache.miss  first\\nof two  [demo]  user=u1
      · INFO  line 1  [demo]  user=u1
      └─ query 2  [demo]  CLIENT  1.500 ms  db.system=sqlite
         · INFO  line 2  [demo]  user=u2
trace ${"05".repeat(16)}  no spans received, 1 log record
↑ span 0500000000000001 · INFO  line 0  [demo]  user=u0
logs [worker]  1 log record outside any span
· INFO  starting  [worker]  user=u0
`,
  );
});
