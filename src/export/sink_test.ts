import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { TracesData } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import {
  sampleBatch,
  sampleSpans,
  sampleTraces,
} from "../../testing/traces.ts";
import { createLogger, silentLogger } from "../log.ts";
import { startReceiver } from "../receive/mod.ts";
import { OtlpBatch, stringAttribute } from "../otlp/mod.ts";
import { readExportConfig } from "./config.ts";
import { createOtlpExporter } from "./otlp_exporter.ts";
import { otlpTransportConfig } from "./otlp_transport.ts";
import type { ProcessMeta } from "./resource.ts";
import { createSink, exporterComponentType, exporterFor } from "./sink.ts";
import type { LogsData } from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";

const host = { name: "box", arch: "amd64" };
const shop: ProcessMeta = { pid: 10, exeName: "shop", exePath: "/bin/shop" };
const cart: ProcessMeta = { pid: 11, exeName: "cart", exePath: "/bin/cart" };

Deno.test("sink exports every span it received, with merged resources, by shutdown", async () => {
  const got: TracesData[] = [];
  const receiver = await startReceiver({
    port: 0,
    onTraces: (t) => got.push(t),
  });
  const config = readExportConfig({
    OTEL_BSP_SCHEDULE_DELAY: "60000",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test",
  });
  const sink = createSink(config, {
    log: silentLogger,
    host,
    exporter: createOtlpExporter(
      otlpTransportConfig("traces", { url: receiver.url }),
    ),
  });
  try {
    for (let i = 0; i < 20; i++) {
      sink.add(
        sampleBatch(sampleTraces(sampleSpans(50, i + 1), "unknown_service:go")),
        i % 2 ? cart : shop,
      );
    }
    await sink.shutdown(5000);
    const c = sink.counters();
    deepStrictEqual([c.received, c.exported, c.dropped, c.queued, c.inFlight], [
      1000,
      1000,
      0,
      0,
      0,
    ]);
    strictEqual(receiver.counters().spans, 1000);
    const services = new Map<string, number>();
    for (const t of got) {
      for (const rs of t.resourceSpans) {
        const attrs = rs.resource?.attributes ?? [];
        strictEqual(
          stringAttribute(attrs, "deployment.environment.name"),
          "test",
        );
        const name = stringAttribute(attrs, "service.name")!;
        const spans = rs.scopeSpans.reduce((n, ss) => n + ss.spans.length, 0);
        services.set(name, (services.get(name) ?? 0) + spans);
      }
      // One ResourceSpans per process per request.
      ok(t.resourceSpans.length <= 2);
    }
    deepStrictEqual(Object.fromEntries(services), { shop: 500, cart: 500 });
  } finally {
    await receiver.close();
  }
});

Deno.test("sink keeps spans for an unreachable endpoint queued, then counts them at shutdown", async () => {
  const config = readExportConfig({ OTEL_BSP_SCHEDULE_DELAY: "10" });
  const exporter = createOtlpExporter(otlpTransportConfig("traces", {
    url: "http://127.0.0.1:9/v1/traces",
    timeoutMillis: 800,
  }));
  const sink = createSink(config, { log: silentLogger, host, exporter });
  sink.add(sampleBatch(sampleTraces(sampleSpans(5))), shop);
  strictEqual(await sink.flush(1500), false, "nothing can be delivered");
  const during = sink.counters();
  deepStrictEqual([during.exported, during.dropped], [0, 0]);
  strictEqual(during.queued + during.inFlight, 5);
  await sink.shutdown(1500);
  const c = sink.counters();
  deepStrictEqual([c.received, c.exported, c.droppedBy.shutdown], [5, 0, 5]);
});

Deno.test("sink with OTEL_TRACES_EXPORTER=none counts spans and sends nothing", async () => {
  const sink = createSink(readExportConfig({ OTEL_TRACES_EXPORTER: "none" }), {
    log: silentLogger,
    host,
  });
  sink.add(sampleBatch(sampleTraces(sampleSpans(4))), shop);
  await sink.shutdown(1000);
  deepStrictEqual([sink.counters().received, sink.counters().dropped], [4, 0]);
});

Deno.test("sink hands a record's memory back once its spans were exported", async () => {
  const config = readExportConfig({ OTEL_BSP_SCHEDULE_DELAY: "60000" });
  let released = 0;
  let answer: () => void = () => {};
  const sink = createSink(config, {
    log: silentLogger,
    host,
    exporter: {
      export: () =>
        new Promise((resolve) =>
          answer = () => resolve({ ok: true, rejected: 0 })
        ),
      shutdown: () => Promise.resolve(),
    },
  });
  const batch = sampleBatch(sampleTraces(sampleSpans(5)));
  sink.add(
    new OtlpBatch(batch.groups, batch.items, () => released++),
    shop,
  );
  const flushed = sink.flush(5000);
  await new Promise((r) => setTimeout(r, 10));
  strictEqual(released, 0, "not while its request is in flight");
  answer();
  ok(await flushed);
  strictEqual(released, 1);
  await sink.shutdown(100);
});

Deno.test("sink never logs the endpoint's credentials or the headers' values when export fails", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const config = readExportConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://alice:s3cr3t@127.0.0.1:${port}`,
    OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20t0ps3cr3t",
    OTEL_EXPORTER_OTLP_TIMEOUT: "500",
    OTEL_BSP_SCHEDULE_DELAY: "10",
  });
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l) });
  const sink = createSink(config, { log, host });
  sink.add(sampleBatch(sampleTraces(sampleSpans(3))), shop);
  await sink.flush(1500);
  await sink.shutdown(0);
  const text = lines.join("\n");
  ok(
    text.includes(
      `Cannot export spans to http://REDACTED:REDACTED@127.0.0.1:${port}/v1/traces`,
    ),
    text,
  );
  ok(!/s3cr3t|alice/.test(text), text);
});

Deno.test("sink sends log records to /v1/logs through their own queue, with the resource the process's spans get", async () => {
  const spans: TracesData[] = [];
  const logs: LogsData[] = [];
  const receiver = await startReceiver({
    port: 0,
    onTraces: (t) => spans.push(t),
    onLogs: (l) => logs.push(l),
  });
  const config = readExportConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.addr}`,
    OTEL_BSP_SCHEDULE_DELAY: "60000",
    OTEL_BLRP_SCHEDULE_DELAY: "60000",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test",
  });
  const sink = createSink(config, { log: silentLogger, host });
  try {
    sink.add(
      sampleBatch(sampleTraces(sampleSpans(4), "unknown_service:go")),
      shop,
    );
    sink.add(
      OtlpBatch.fromLogsData(
        sampleLogs(sampleLogRecords(6), "unknown_service:go"),
      ),
      shop,
    );
    strictEqual(sink.counters().queued, 4);
    strictEqual(sink.logCounters().queued, 6);
    await sink.shutdown(5000);
    const t = sink.counters();
    const l = sink.logCounters();
    deepStrictEqual([t.received, t.exported, t.dropped], [4, 4, 0]);
    deepStrictEqual([l.received, l.exported, l.dropped], [6, 6, 0]);
    deepStrictEqual(
      [receiver.counters().spans, receiver.counters().logRecords],
      [4, 6],
    );
    // The same merged resource on both signals.
    deepStrictEqual(
      logs[0].resourceLogs[0].resource,
      spans[0].resourceSpans[0].resource,
    );
    const attrs = logs[0].resourceLogs[0].resource!.attributes;
    strictEqual(stringAttribute(attrs, "service.name"), "shop");
    strictEqual(stringAttribute(attrs, "deployment.environment.name"), "test");
  } finally {
    await receiver.close();
  }
});

Deno.test("sink counts log records lost to an unreachable endpoint apart from spans, and its room is the fuller queue's", async () => {
  const config = readExportConfig({
    OTEL_TRACES_EXPORTER: "none",
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "http://127.0.0.1:9/v1/logs",
    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: "500",
    OTEL_BLRP_SCHEDULE_DELAY: "10",
    OTEL_BLRP_MAX_QUEUE_SIZE: "100",
    OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: "50",
  });
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l) });
  const sink = createSink(config, { log, host });
  sink.add(sampleBatch(sampleTraces(sampleSpans(3))), shop);
  sink.add(OtlpBatch.fromLogsData(sampleLogs(sampleLogRecords(40))), shop);
  strictEqual(sink.room().spans, 60);
  await sink.flush(1200);
  await sink.shutdown(0);
  const t = sink.counters();
  const l = sink.logCounters();
  deepStrictEqual([t.received, t.exported, t.dropped], [3, 3, 0]);
  strictEqual(l.received, 40);
  strictEqual(l.exported, 0);
  strictEqual(l.dropped, 40);
  const warned = lines.map((line) => JSON.parse(line)).find((line) =>
    line.msg?.startsWith?.("Cannot export log records") ||
    line.message?.startsWith?.("Cannot export log records")
  );
  ok(warned, lines.join("\n"));
  strictEqual(warned.signal, "logs");
  ok(warned.logRecords > 0);
});

Deno.test("sink bounds spans and log records together by SPANBRIDGE_MAX_QUEUE_BYTES", async () => {
  const config = readExportConfig({
    OTEL_BSP_SCHEDULE_DELAY: "60000",
    OTEL_BLRP_SCHEDULE_DELAY: "60000",
    SPANBRIDGE_MAX_QUEUE_BYTES: "1M",
  });
  const sink = createSink(config, { log: silentLogger, host });
  const empty = sink.room().bytes;
  sink.add(OtlpBatch.fromLogsData(sampleLogs(sampleLogRecords(400))), shop);
  const logBytes = sink.logCounters().queuedBytes;
  ok(logBytes > 0);
  strictEqual(sink.room().bytes, empty - logBytes, "room after log records");
  sink.add(sampleBatch(sampleTraces(sampleSpans(400))), shop);
  strictEqual(
    sink.room().bytes,
    empty - logBytes - sink.counters().queuedBytes,
    "room after spans too",
  );
  await sink.shutdown(0);
});

Deno.test("sink with OTEL_LOGS_EXPORTER=none counts log records as exported and sends nothing; console prints them", async () => {
  const sink = createSink(readExportConfig({ OTEL_LOGS_EXPORTER: "none" }), {
    log: silentLogger,
    host,
  });
  sink.add(OtlpBatch.fromLogsData(sampleLogs(sampleLogRecords(4))), shop);
  await sink.shutdown(1000);
  const l = sink.logCounters();
  deepStrictEqual([l.received, l.exported, l.dropped], [4, 4, 0]);
  strictEqual(sink.counters().received, 0);
  strictEqual(exporterFor(readExportConfig({}).logs) !== undefined, true);
  strictEqual(
    exporterFor(readExportConfig({ OTEL_LOGS_EXPORTER: "none" }).logs),
    undefined,
  );
});

Deno.test("exporterComponentType names each signal's exporter as the semantic conventions do", () => {
  const config = readExportConfig({
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "grpc",
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
  });
  strictEqual(
    exporterComponentType(config, "traces"),
    "otlp_http_json_span_exporter",
  );
  strictEqual(
    exporterComponentType(config.logs, "logs"),
    "otlp_grpc_log_exporter",
  );
  strictEqual(
    exporterComponentType(readExportConfig({}), "traces"),
    "otlp_http_span_exporter",
  );
  strictEqual(
    exporterComponentType(
      readExportConfig({ OTEL_LOGS_EXPORTER: "console" }).logs,
      "logs",
    ),
    "spanbridge.console_log_exporter",
  );
});
