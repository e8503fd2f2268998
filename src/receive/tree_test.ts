import { strictEqual } from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  Span_EventSchema,
  Status_StatusCode,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { attr, id, sampleSpans, sampleTraces } from "../../testing/traces.ts";
import { formatTraces } from "./tree.ts";

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
