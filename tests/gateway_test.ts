/**
 * The Kubernetes gateway's Collector configuration
 * (deploy/kubernetes/spanbridge/files/gateway.yaml) with a real Collector
 * (testing/collector, v0.160.0 with the k8sattributes processor):
 *
 * - `otelcol validate` accepts it, and refuses a misspelt key;
 * - a sender's claims of where it runs (k8s.namespace.name, k8s.pod.name,
 *   container.image.name…) do not survive it, the agent's container.id,
 *   k8s.pod.uid and k8s.node.name do; with the chart's gateway-auth.yaml a
 *   sender without the agents' token is refused; health_check answers;
 * - agent traffic passes it span by span: the showcase example traced by
 *   `spanbridge run`, exported to the gateway (k8sattributes in
 *   pass-through, as there is no API server here: it adds nothing), batched
 *   and forwarded over OTLP/HTTP to a collecting receiver;
 * - and record by record: log records written through slog (testing/slog),
 *   sent with the agents' bearer token, through the logs pipeline, each with
 *   its span's ids and the resource of its process's spans; a direct
 *   sender's claims do not survive the logs pipeline either;
 * - the agent's telemetry listener tells the truth meanwhile: ready and
 *   counting while spans flow, not ready and queueing while the gateway is
 *   down, ready again once it is back, and nothing lost.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
  waitForSpans,
  waitUntil,
} from "../testing/harness.ts";
import {
  buildCollector,
  collectorExe,
  CollectorProcess,
  gatewayAuthConfig,
  gatewayConfig,
} from "../testing/collector.ts";
import {
  attributeMap,
  collectingReceiver,
  unusedPort,
} from "../testing/receiver.ts";
import {
  assertSpans,
  recordShowcase,
  stopAndAssertNothingLost,
} from "../testing/assert_spans.ts";
import { assertHelloRunsArrived, startHello } from "../testing/hello.ts";
import type { LogsData } from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { startReceiver } from "../src/receive/mod.ts";
import {
  runAndDeliver,
  slogRecordCount,
  SlogSink,
  type TracedSlog,
  traceSlog,
} from "../testing/slog_program.ts";

async function validate(
  ...extra: string[]
): Promise<{ code: number; out: string }> {
  await buildCollector();
  const { code, stdout, stderr } = await new Deno.Command(collectorExe, {
    args: ["validate", `--config=file:${gatewayConfig}`, ...extra],
    env: {
      GATEWAY_EXPORT_ENDPOINT: "http://127.0.0.1:1",
      GATEWAY_TOKEN_FILE: "/run/secrets/gateway-token",
    },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout) + dec.decode(stderr) };
}

Deno.test("the gateway configuration passes otelcol validate", async () => {
  const ok = await validate();
  assert.equal(ok.code, 0, ok.out);
  const bad = await validate(
    "--config=yaml:processors::batch::send_batch_sizee: 1",
  );
  assert.notEqual(bad.code, 0, "validate accepted a misspelt key");
  assert.match(bad.out, /send_batch_sizee/);
  const auth = await validate(
    `--config=file:${gatewayAuthConfig}`,
  );
  assert.equal(auth.code, 0, auth.out);
});

/** POSTs one span under `attributes` (string values) to a gateway as OTLP/JSON. */
function sendSpan(
  gateway: CollectorProcess,
  attributes: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  const resource = {
    attributes: Object.entries(attributes).map(([key, value]) => ({
      key,
      value: { stringValue: value },
    })),
  };
  const span = {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    name: "direct",
    kind: 1,
    startTimeUnixNano: "1700000000000000000",
    endTimeUnixNano: "1700000000001000000",
  };
  return fetch(`http://${gateway.listen}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      resourceSpans: [{ resource, scopeSpans: [{ spans: [span] }] }],
    }),
  });
}

/**
 * The identity the agent gives a direct sender's resource, which the
 * gateway keeps (the sender's other claims it removes).
 */
const agentIdentity = {
  "service.name": "direct",
  "container.id": "ab".repeat(32),
  "k8s.pod.uid": "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
  "k8s.node.name": "node-7",
};

Deno.test("the gateway removes a direct sender's claims of namespace, pod and container metadata, keeps the agent's identity, and answers health checks", async () => {
  await buildCollector();
  const receiver = await collectingReceiver();
  const gateway = CollectorProcess.gateway(unusedPort(), receiver.endpoint);
  try {
    await gateway.ready(30_000);
    const health = await fetch(`http://${gateway.health}/`);
    assert.equal(health.status, 200, await health.text());
    const res = await sendSpan(gateway, {
      ...agentIdentity,
      "container.image.name": "registry/payments",
      "k8s.namespace.name": "prod",
      "k8s.pod.name": "payments-7d9f",
      "k8s.deployment.name": "payments",
      "spanbridge.keep.k8s.namespace.name": "prod",
    });
    assert.equal(res.status, 200, await res.text());
    await waitForSpans(receiver, 1, 20_000, "the direct span", { gateway });
    const attrs = attributeMap(receiver.spans[0].resource);
    assert.deepEqual(
      Object.fromEntries(
        [...attrs].map(([k, v]) => [k, v.stringValue]),
      ),
      agentIdentity,
    );
  } finally {
    await gateway.stop();
    await receiver.close();
  }
});

Deno.test("the gateway with gateway-auth.yaml refuses a sender without the agents' bearer token", async () => {
  await buildCollector();
  const receiver = await collectingReceiver();
  const tokenFile = await Deno.makeTempFile();
  await Deno.writeTextFile(tokenFile, "s3cr3t-agents-only");
  const gateway = CollectorProcess.gateway(
    unusedPort(),
    receiver.endpoint,
    tokenFile,
  );
  try {
    await gateway.ready(30_000);
    const tries: Record<string, string>[] = [{}, {
      authorization: "Bearer guess",
    }];
    for (const headers of tries) {
      const refused = await sendSpan(gateway, { "service.name": "x" }, headers);
      await refused.body?.cancel();
      assert.equal(refused.status, 401, JSON.stringify(headers));
    }
    const ok = await sendSpan(gateway, { "service.name": "agent" }, {
      authorization: "Bearer s3cr3t-agents-only",
    });
    assert.equal(ok.status, 200, await ok.text());
    await waitForSpans(receiver, 1, 20_000, "the agent's span", { gateway });
    assert.equal(receiver.spans.length, 1);
  } finally {
    await gateway.stop();
    await receiver.close();
    await Deno.remove(tokenFile);
  }
});

Deno.test("the gateway's logs pipeline removes a direct sender's claims and keeps the agent's identity", async () => {
  await buildCollector();
  const logs: LogsData[] = [];
  const receiver = await startReceiver({
    port: 0,
    onLogs: (l) => logs.push(l),
  });
  const gateway = CollectorProcess.gateway(
    unusedPort(),
    `http://${receiver.addr}`,
  );
  try {
    await gateway.ready(30_000);
    const attributes = {
      ...agentIdentity,
      "k8s.namespace.name": "prod",
      "k8s.pod.name": "payments-7d9f",
      "container.image.name": "registry/payments",
    };
    const res = await fetch(`http://${gateway.listen}/v1/logs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceLogs: [{
          resource: {
            attributes: Object.entries(attributes).map(([key, value]) => ({
              key,
              value: { stringValue: value },
            })),
          },
          scopeLogs: [{
            logRecords: [{
              timeUnixNano: "1700000000000000000",
              severityNumber: 9,
              body: { stringValue: "direct" },
            }],
          }],
        }],
      }),
    });
    assert.equal(res.status, 200, await res.text());
    await waitUntil(
      () => receiver.counters().logRecords >= 1,
      20_000,
      "the direct log record",
    );
    const resource = logs[0].resourceLogs[0].resource!;
    assert.deepEqual(
      Object.fromEntries(
        resource.attributes.map((kv) => [kv.key, kv.value?.value.value]),
      ),
      agentIdentity,
    );
  } finally {
    await gateway.stop();
    await receiver.close();
  }
});

Deno.test({
  name:
    "slog records pass the Kubernetes gateway's Collector record by record, sent with the agents' token",
  ignore: !ebpfAvailable("gateway logs e2e"),
  async fn() {
    await buildCollector();
    const spans = 100;
    const records = slogRecordCount(spans);
    const sink = await SlogSink.start();
    const receiver = sink.receiver;
    const tokenFile = await Deno.makeTempFile({
      prefix: "spanbridge-gw-token-",
    });
    await Deno.writeTextFile(tokenFile, "s3cr3t-agents-only");
    let gateway: CollectorProcess | undefined;
    let traced: TracedSlog | undefined;
    try {
      gateway = CollectorProcess.gateway(
        unusedPort(),
        `http://${receiver.addr}`,
        tokenFile,
      );
      await gateway.ready(30_000);
      traced = await traceSlog({
        tag: "gateway-logs",
        instance: "logsreal-gateway-logs",
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${gateway.listen}`,
          // As the chart sets it for the agents (gateway.auth).
          OTEL_EXPORTER_OTLP_HEADERS:
            "Authorization=Bearer%20s3cr3t-agents-only",
        },
      });
      await runAndDeliver(traced, sink, spans, " through the gateway", {
        gateway,
      });
      await gateway.stopAndAssertQuiet("the gateway");
      await sink.assertRecords(traced.recordPath, records);
    } finally {
      await traced?.close();
      await gateway?.stop();
      await sink.close();
      await Deno.remove(tokenFile);
    }
  },
});

/** GET `path` on the agent's telemetry listener. */
async function get(
  port: number,
  path: string,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/**
 * The value of the sample of `name` in Prometheus text whose labels, the
 * otel_scope_* ones left out, are exactly `labels` (e.g. 'error_type="x"').
 */
function sample(text: string, name: string, labels = ""): number {
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const own = m[2].split(",").filter((l) =>
      l && !l.startsWith("otel_scope_")
    );
    if (own.join(",") === labels) return Number(m[3]);
  }
  return NaN;
}

Deno.test({
  name: "showcase spans pass the Kubernetes gateway's Collector intact",
  ignore: !ebpfAvailable("gateway e2e"),
  async fn() {
    await buildCollector();
    const showcase = await copyProgram("showcase");
    const recordFile = await Deno.makeTempFile({ suffix: ".json" });
    const pinRoot = testPinRoot("gateway");
    const receiver = await collectingReceiver();
    const telemetryPort = unusedPort();
    let gateway: CollectorProcess | undefined;
    let controller: ControllerProcess | undefined;
    try {
      gateway = CollectorProcess.gateway(unusedPort(), receiver.endpoint);
      await gateway.ready(30_000);
      controller = new ControllerProcess(
        [
          "run",
          "--target",
          showcase.exe,
          "--pin-root",
          pinRoot,
          "--no-status",
          "--telemetry",
          `${telemetryPort}`,
        ],
        { OTEL_EXPORTER_OTLP_ENDPOINT: `http://${gateway.listen}` },
      );
      await controller.waitFor("attached");
      await waitUntil(
        async () => (await get(telemetryPort, "/readyz")).status === 200,
        10_000,
        "the agent to turn ready",
      );
      const record = await recordShowcase(showcase.exe, recordFile);
      await waitForSpans(
        receiver,
        record.spans.length,
        20_000,
        `${record.spans.length} spans through the gateway`,
        { controller, gateway },
      );
      const metrics = (await get(telemetryPort, "/metrics")).body;
      assert.equal(
        sample(metrics, "spanbridge_span_received_total"),
        record.spans.length,
        metrics,
      );
      assert.equal(
        sample(metrics, "otel_sdk_exporter_span_exported_total"),
        record.spans.length,
        metrics,
      );

      await stopAndAssertNothingLost(controller, record.spans.length);
      await gateway.stopAndAssertQuiet("the gateway");
      assertSpans(record, receiver.spans, "protobuf");
    } finally {
      if (controller) await stopIfRunning(controller);
      await gateway?.stop();
      await receiver.close();
      await removePinRoot(pinRoot);
      await showcase.remove();
      await Deno.remove(recordFile);
    }
  },
});

Deno.test({
  name:
    "agent readiness and metrics while spans flow, while the gateway is down and after it is back",
  ignore: !ebpfAvailable("gateway outage"),
  async fn() {
    await buildCollector();
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("gateway-outage");
    const receiver = await collectingReceiver();
    const gatewayPort = unusedPort();
    const telemetryPort = unusedPort();
    let gateway: CollectorProcess | undefined;
    let controller: ControllerProcess | undefined;
    try {
      gateway = CollectorProcess.gateway(gatewayPort, receiver.endpoint);
      await gateway.ready(30_000);
      controller = new ControllerProcess(
        ["run", "--target", hello.exe, "--pin-root", pinRoot, "--no-status"],
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${gateway.listen}`,
          OTEL_EXPORTER_OTLP_TIMEOUT: "1000",
          OTEL_BSP_SCHEDULE_DELAY: "100",
          SPANBRIDGE_TELEMETRY: `127.0.0.1:${telemetryPort}`,
          SPANBRIDGE_TELEMETRY_EXPORT_FAILING: "2",
        },
      );
      await controller.waitFor("attached");
      const run = startHello(hello.exe, {
        rate: 40,
        durationMs: 14_000,
        env: { OTEL_BSP_SCHEDULE_DELAY: "100" },
      });

      // Spans flow: ready, and the counters move.
      await waitUntil(() => receiver.spans.length > 0, 15_000, "first spans");
      let ready = await get(telemetryPort, "/readyz");
      assert.equal(ready.status, 200, ready.body);
      assert.match(
        ready.body,
        /^ok probe: .*\nok ring: .*\nok discovery: keeping up .*\nok export: not failing\n$/,
      );
      await waitUntil(
        async () =>
          sample(
            (await get(telemetryPort, "/metrics")).body,
            "otel_sdk_exporter_span_exported_total",
          ) > 0,
        10_000,
        "exported spans in /metrics",
      );
      const flowing = (await get(telemetryPort, "/metrics")).body;
      assert.ok(
        sample(
          flowing,
          "otel_sdk_exporter_operation_duration_count",
          'otel_component_type="otlp_http_span_exporter"',
        ) > 0,
        flowing,
      );
      assert.equal(sample(flowing, "spanbridge_binary_attached"), 1, flowing);
      assert.equal((await get(telemetryPort, "/healthz")).status, 200);

      // The gateway goes down: still alive, not ready once export has
      // failed for 2 s, spans wait in the queue.
      await gateway.stop();
      await waitUntil(
        async () => (await get(telemetryPort, "/readyz")).status === 503,
        20_000,
        "the agent to turn unready",
      );
      ready = await get(telemetryPort, "/readyz");
      assert.match(
        ready.body,
        /FAIL export: traces failing for [0-9.]+ s \(not ready after 2 s\)/,
      );
      assert.equal((await get(telemetryPort, "/healthz")).status, 200);
      const down = (await get(telemetryPort, "/metrics")).body;
      assert.ok(
        sample(
          down,
          "otel_sdk_exporter_operation_duration_count",
          'otel_component_type="otlp_http_span_exporter",error_type="retryable"',
        ) > 0,
        down,
      );
      assert.ok(
        sample(down, "otel_sdk_processor_span_queue_size") +
            sample(down, "otel_sdk_exporter_span_inflight") > 0,
        down,
      );

      // Back: ready again, and every span arrives.
      gateway = CollectorProcess.gateway(gatewayPort, receiver.endpoint);
      await gateway.ready(30_000);
      await waitUntil(
        async () => (await get(telemetryPort, "/readyz")).status === 200,
        20_000,
        "the agent to turn ready again",
      );
      const done = await run.done;
      await waitUntil(
        () => {
          try {
            assertHelloRunsArrived(receiver.spans, [done]);
            return true;
          } catch {
            return false;
          }
        },
        20_000,
        "every hello trace",
      );
      const spans = assertHelloRunsArrived(receiver.spans, [done]);
      const after = (await get(telemetryPort, "/metrics")).body;
      assert.equal(sample(after, "spanbridge_span_received_total"), spans);
      assert.equal(
        sample(after, "otel_sdk_exporter_span_exported_total"),
        spans,
      );
      for (const reason of ["export_failed", "rejected"]) {
        assert.equal(
          sample(
            after,
            "otel_sdk_exporter_span_exported_total",
            `error_type="${reason}"`,
          ),
          0,
          after,
        );
      }
      await stopAndAssertNothingLost(controller, spans);
    } finally {
      if (controller) await stopIfRunning(controller);
      await gateway?.stop();
      await receiver.close();
      await removePinRoot(pinRoot);
      await hello.remove();
    }
  },
});
