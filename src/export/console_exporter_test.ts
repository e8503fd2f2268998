import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  sampleBatch,
  sampleSpans,
  sampleTraces,
} from "../../testing/traces.ts";
import { createConsoleExporter } from "./console_exporter.ts";
import { OtlpBatch } from "../otlp/mod.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";

Deno.test("console exporter prints one OTLP/JSON line per span", async () => {
  const lines: string[] = [];
  const exporter = createConsoleExporter((line) => lines.push(line));
  const batch = sampleBatch(sampleTraces(sampleSpans(3)));
  deepStrictEqual(await exporter.export(batch), { ok: true, rejected: 0 });
  strictEqual(lines.length, 3);
  const first = JSON.parse(lines[0]);
  strictEqual(first.resource.attributes[0].value.stringValue, "demo");
  strictEqual(first.scope.name, "spanbridge/sdk");
  strictEqual(first.span.name, "GET /");
  strictEqual(first.span.traceId, "01".repeat(16));
  strictEqual(first.span.startTimeUnixNano, "1732450000123456789");
  strictEqual(JSON.parse(lines[2]).span.name, "query 2");
});

Deno.test("console exporter prints one OTLP/JSON line per log record", async () => {
  const lines: string[] = [];
  const exporter = createConsoleExporter((line) => lines.push(line));
  const batch = OtlpBatch.fromLogsData(sampleLogs(sampleLogRecords(2)));
  deepStrictEqual(await exporter.export(batch), { ok: true, rejected: 0 });
  strictEqual(lines.length, 2);
  const second = JSON.parse(lines[1]);
  strictEqual(second.resource.attributes[0].value.stringValue, "demo");
  strictEqual(second.scope.name, "spanbridge/sdk");
  strictEqual(second.logRecord.body.stringValue, "line 1");
  strictEqual(second.logRecord.traceId, "01".repeat(16));
  strictEqual(second.logRecord.spanId, "0100000000000101");
  strictEqual(second.logRecord.severityNumber, 9);
  strictEqual(second.span, undefined);
});
