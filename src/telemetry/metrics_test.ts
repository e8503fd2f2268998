import assert from "node:assert/strict";
import { readOtlpTransport } from "../export/mod.ts";
import { AgentMetrics } from "./metrics.ts";
import { testStats } from "../../testing/controller_stats.ts";

Deno.test("AgentMetrics renders the controller's counters as Prometheus text", async () => {
  const metrics = await AgentMetrics.create({
    stats: testStats,
    resource: { "service.name": "spanbridge" },
  });
  const component = "otlp_http_span_exporter";
  metrics.recordExport({ component, seconds: 0.02, items: 100 });
  metrics.recordExport({
    component,
    seconds: 3,
    items: 100,
    errorType: "retryable",
  });
  const text = await metrics.prometheus();
  await metrics.shutdown();
  const lines = text.split("\n").map((l) =>
    l.replace(/otel_scope_name="spanbridge",?/, "").replace(",}", "}")
  );
  for (
    const line of [
      "spanbridge_span_received_total{} 1000",
      "otel_sdk_exporter_span_exported_total{} 900",
      'otel_sdk_exporter_span_exported_total{error_type="export_failed"} 20',
      'otel_sdk_exporter_span_exported_total{error_type="rejected"} 5',
      'otel_sdk_processor_span_processed_total{error_type="queue_full"} 10',
      'otel_sdk_processor_span_processed_total{error_type="shutdown"} 3',
      'otel_sdk_exporter_span_exported_total{error_type="in_flight"} 2',
      "otel_sdk_exporter_span_inflight{} 10",
      "otel_sdk_processor_span_queue_size{} 50",
      "spanbridge_log_received_total{} 300",
      "otel_sdk_exporter_log_exported_total{} 280",
      'otel_sdk_exporter_log_exported_total{error_type="export_failed"} 4',
      'otel_sdk_processor_log_processed_total{error_type="queue_full"} 7',
      'otel_sdk_processor_log_processed_total{error_type="shutdown"} 1',
      "otel_sdk_exporter_log_inflight{} 2",
      "otel_sdk_processor_log_queue_size{} 6",
      "spanbridge_record_lost_total{} 5",
      'spanbridge_batch_lost_total{service_name="checkout"} 4',
      'spanbridge_batch_lost_total{service_name="cart"} 1',
      'spanbridge_batch_lost_total{service_name="_other"} 1',
      "spanbridge_record_corrupt_total{} 1",
      "spanbridge_binary_attached{} 2",
      "spanbridge_process_traced{} 3",
      'otel_sdk_exporter_operation_duration_bucket{otel_component_type="otlp_http_span_exporter",le="0.025"} 1',
      'otel_sdk_exporter_operation_duration_count{otel_component_type="otlp_http_span_exporter",error_type="retryable"} 1',
    ]
  ) {
    assert.ok(lines.includes(line), `missing "${line}" in:\n${text}`);
  }
  assert.match(text, /target_info\{[^}]*service_name="spanbridge"/);
});

Deno.test("AgentMetrics counts sampled-out spans apart from losses (0 without sampling)", async () => {
  const metrics = await AgentMetrics.create({
    stats: () => ({ ...testStats(), sampling: { sampledOut: 7 } }),
    resource: {},
  });
  const text = await metrics.prometheus();
  await metrics.shutdown();
  assert.match(text, /^spanbridge_span_sampled_out_total\{[^}]*\} 7$/m);
  const plain = await AgentMetrics.create({ stats: testStats, resource: {} });
  const none = await plain.prometheus();
  await plain.shutdown();
  assert.match(none, /^spanbridge_span_sampled_out_total\{[^}]*\} 0$/m);
});

Deno.test("AgentMetrics shows nothing of the controller before it runs", async () => {
  const metrics = await AgentMetrics.create({
    stats: () => undefined,
    resource: {},
  });
  const text = await metrics.prometheus();
  await metrics.shutdown();
  assert.doesNotMatch(text, /spanbridge_span_received/);
});

Deno.test("AgentMetrics pushes OTLP metrics where its configuration says, with its headers", async () => {
  const bodies: { path: string; auth: string | null; body: unknown }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      bodies.push({
        path: new URL(req.url).pathname,
        auth: req.headers.get("authorization"),
        body: await req.json(),
      });
      return new Response("{}", {
        headers: { "content-type": "application/json" },
      });
    },
  );
  const transport = readOtlpTransport({
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9/nowhere",
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT:
      `http://127.0.0.1:${server.addr.port}/v1/metrics`,
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: "authorization=Bearer%20m",
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json",
  }, "metrics");
  // What OpenTelemetry JS would read on its own must change nothing.
  const stray = {
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://127.0.0.1:1/v1/metrics",
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: "authorization=stray",
  };
  for (const [k, v] of Object.entries(stray)) Deno.env.set(k, v);
  try {
    const metrics = await AgentMetrics.create({
      stats: testStats,
      resource: { "service.name": "spanbridge" },
      otlp: { transport, temporality: "cumulative", intervalMs: 60_000 },
    });
    await metrics.shutdown(); // shutdown pushes once
  } finally {
    for (const k of Object.keys(stray)) Deno.env.delete(k);
    await server.shutdown();
  }
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0].path, "/v1/metrics");
  assert.equal(bodies[0].auth, "Bearer m");
  const json = JSON.stringify(bodies[0].body);
  for (
    const name of [
      "spanbridge.span.received",
      "otel.sdk.exporter.span.exported",
      "otel.sdk.processor.span.queue.size",
    ]
  ) {
    assert.ok(json.includes(`"name":"${name}"`), `${name} missing in ${json}`);
  }
});

Deno.test("AgentMetrics pushes OTLP/protobuf unless the protocol says otherwise", async () => {
  const got: { type: string | null; body: Uint8Array }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      got.push({
        type: req.headers.get("content-type"),
        body: new Uint8Array(await req.arrayBuffer()),
      });
      return new Response(new Uint8Array(0), {
        headers: { "content-type": "application/x-protobuf" },
      });
    },
  );
  try {
    const metrics = await AgentMetrics.create({
      stats: testStats,
      resource: { "service.name": "spanbridge" },
      otlp: {
        transport: readOtlpTransport({
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
        }, "metrics"),
        temporality: "cumulative",
        intervalMs: 60_000,
      },
    });
    await metrics.shutdown();
  } finally {
    await server.shutdown();
  }
  assert.equal(got.length, 1);
  assert.equal(got[0].type, "application/x-protobuf");
  // Protobuf strings are their UTF-8 bytes: the metric names are in there.
  const text = new TextDecoder().decode(got[0].body);
  assert.ok(text.includes("spanbridge.span.received"));
  assert.ok(!text.trimStart().startsWith("{"), "not a JSON body");
});
