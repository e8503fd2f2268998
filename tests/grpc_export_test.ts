/**
 * OTLP/gRPC export (OTEL_EXPORTER_OTLP_PROTOCOL=grpc) against a real
 * OpenTelemetry Collector's gRPC receiver (testing/collector): the span
 * exporter and the metrics push, built from the environment the way the
 * agent builds them, send to the Collector, which forwards over OTLP/HTTP to
 * a collecting receiver of ours. The receiver's scripted answers make the
 * Collector's receiver answer as a backend would: its exporter runs without
 * a queue or retries, so a 503 comes back as UNAVAILABLE, a 400 as
 * INVALID_ARGUMENT, a late answer as a deadline exceeded.
 *
 * Most tests drive the exporter directly (no eBPF); the last two run the
 * agent on the hello example, for the loss accounting of its `stopped` line.
 */
import assert from "node:assert/strict";
import {
  createOtlpExporter,
  type ExportOutcome,
  readExportConfig,
} from "../src/export/mod.ts";
import type { OtlpBatch } from "../src/otlp/mod.ts";
import { selfSigned } from "../testing/tls.ts";
import { richTraces, sampleBatch } from "../testing/traces.ts";
import { AgentMetrics } from "../src/telemetry/metrics.ts";
import { readTelemetryConfig } from "../src/telemetry/mod.ts";
import { buildCollector, CollectorProcess } from "../testing/collector.ts";
import { delay, ebpfAvailable, waitUntil } from "../testing/harness.ts";
import { assertHelloRunsArrived, runHello } from "../testing/hello.ts";
import { traceHello } from "../testing/traced.ts";
import {
  type CollectingReceiver,
  collectingReceiver,
  unusedPort,
} from "../testing/receiver.ts";

const token = "grpc-test-token-41";

/** TLS settings of the Collector's gRPC receiver (PEM file paths). */
interface ReceiverTls {
  cert: string;
  key: string;
  /** Asks for a client certificate signed by this CA (mutual TLS). */
  clientCa?: string;
}

/**
 * A Collector whose OTLP receiver takes gRPC only (on a free port, bearer
 * token required) and forwards traces (and log records) to `traces` and metrics to
 * `metrics`, without a sending queue or retries of its own.
 */
async function grpcCollector(
  dir: string,
  traces: string,
  metrics: string,
  tls?: ReceiverTls,
): Promise<CollectorProcess> {
  await buildCollector();
  const listen = `127.0.0.1:${unusedPort()}`;
  const tlsYaml = tls
    ? `
        tls:
          cert_file: ${tls.cert}
          key_file: ${tls.key}${
      tls.clientCa ? `\n          client_ca_file: ${tls.clientCa}` : ""
    }`
    : "";
  const exporter = (endpoint: string) => `
    endpoint: ${endpoint}
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
    timeout: 10s`;
  const config = `${dir}/collector.yaml`;
  await Deno.writeTextFile(
    config,
    `
extensions:
  bearertokenauth:
    token: ${token}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${listen}
        auth:
          authenticator: bearertokenauth${tlsYaml}
exporters:
  otlp_http/traces:${exporter(traces)}
  otlp_http/metrics:${exporter(metrics)}
  otlp_http/logs:${exporter(traces)}
service:
  extensions: [bearertokenauth]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_http/traces]
    metrics:
      receivers: [otlp]
      exporters: [otlp_http/metrics]
    logs:
      receivers: [otlp]
      exporters: [otlp_http/logs]
`,
  );
  const collector = new CollectorProcess(
    listen,
    [`--config=file:${config}`],
    {},
  );
  await collector.ready(30_000);
  return collector;
}

/**
 * Exports `batch` once with the agent's span exporter for `env` over gRPC,
 * then shuts the exporter down; returns the outcome and how long the export
 * took (without the shutdown), in ms.
 */
async function exportOnce(
  env: Record<string, string>,
  batch: OtlpBatch = sampleBatch(richTraces()),
): Promise<{ outcome: ExportOutcome; took: number }> {
  const config = readExportConfig({
    OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${token}`,
    ...env,
  });
  assert.equal(config.otlp.protocol, "grpc");
  const exporter = createOtlpExporter(config.otlp, 3);
  try {
    const started = Date.now();
    const outcome = await exporter.export(batch);
    return { outcome, took: Date.now() - started };
  } finally {
    await exporter.shutdown();
  }
}

/** A receiver of OTLP/HTTP metrics that counts the requests. */
function metricsReceiver() {
  const bodies: Uint8Array[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      bodies.push(new Uint8Array(await req.arrayBuffer()));
      return new Response(new Uint8Array(0), {
        headers: { "content-type": "application/x-protobuf" },
      });
    },
  );
  return { bodies, endpoint: `http://127.0.0.1:${server.addr.port}`, server };
}

/** Runs `fn` with a gRPC Collector in front of fresh receivers; cleans up after. */
async function withCollector(
  fn: (
    c: {
      collector: CollectorProcess;
      receiver: CollectingReceiver;
      metrics: ReturnType<typeof metricsReceiver>;
      dir: string;
    },
  ) => Promise<void>,
  options: { script?: (n: number) => Promise<Response | undefined> } = {},
  tls?: (dir: string) => Promise<ReceiverTls>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-grpc-test-" });
  const receiver = await collectingReceiver({ script: options.script });
  const metrics = metricsReceiver();
  let collector: CollectorProcess | undefined;
  try {
    collector = await grpcCollector(
      dir,
      receiver.endpoint,
      metrics.endpoint,
      tls && await tls(dir),
    );
    await fn({ collector, receiver, metrics, dir });
  } finally {
    await collector?.stop();
    await receiver.close();
    await metrics.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("spans reach the Collector over gRPC intact, with the headers as metadata and gzip", async () => {
  await withCollector(async ({ collector, receiver }) => {
    const batch = sampleBatch(richTraces());
    const { outcome } = await exportOnce({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
      OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
    }, batch);
    assert.deepEqual(outcome, { ok: true, rejected: 0, message: undefined });
    const sent = batch.toTracesData().resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) => ss.spans)
    );
    const hex = (b: Uint8Array) =>
      [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    assert.deepEqual(
      receiver.spans.map((s) => s.span.spanId).sort(),
      sent.map((s) => hex(s.spanId)).sort(),
    );
    assert.deepEqual(
      receiver.spans.map((s) => s.span.name).sort(),
      sent.map((s) => s.name).sort(),
    );
  });
});

Deno.test("a gRPC refusal (UNAUTHENTICATED, INVALID_ARGUMENT) is not retried and says why, without the token", async () => {
  await withCollector(async ({ collector, receiver }) => {
    const endpoint = `http://${collector.listen}`;
    const { outcome: refused } = await exportOnce({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20wrong-token-1",
    });
    assert.ok(!refused.ok);
    assert.equal(refused.retryable, false);
    assert.match(refused.error.message, /\(gRPC UNAUTHENTICATED\)/);
    assert.match(
      refused.error.message,
      new RegExp(`^Cannot export spans to ${endpoint}/: `),
    );
    assert.ok(!refused.error.message.includes("wrong-token-1"));
    assert.equal(receiver.requests.length, 0);

    // The backend refuses the spans for good (400): the Collector answers
    // INVALID_ARGUMENT, and the spans are not sent again.
    const { outcome: invalid } = await exportOnce({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    });
    assert.ok(!invalid.ok);
    assert.equal(invalid.retryable, false);
    assert.match(invalid.error.message, /\(gRPC INVALID_ARGUMENT\)/);
    assert.equal(receiver.requests.length, 1);
  }, { script: () => Promise.resolve(new Response("no", { status: 400 })) });
});

Deno.test("an UNAVAILABLE answer is retried with backoff until the Collector's backend accepts", async () => {
  await withCollector(async ({ collector, receiver }) => {
    const batch = sampleBatch(richTraces());
    const { outcome } = await exportOnce({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: "20000",
    }, batch);
    assert.deepEqual(outcome, { ok: true, rejected: 0, message: undefined });
    assert.deepEqual(receiver.requests.map((r) => r.status), [503, 503, 200]);
    assert.equal(receiver.spans.length, batch.items);
  }, {
    script: (n) =>
      Promise.resolve(
        n < 2 ? new Response("later", { status: 503 }) : undefined,
      ),
  });
});

Deno.test("a Collector slower than OTEL_EXPORTER_OTLP_TIMEOUT ends in DEADLINE_EXCEEDED, reported as retryable", async () => {
  await withCollector(async ({ collector }) => {
    const { outcome, took } = await exportOnce({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: "1000",
    });
    assert.ok(!outcome.ok);
    assert.equal(outcome.retryable, true);
    assert.match(outcome.error.message, /\(gRPC DEADLINE_EXCEEDED\)/);
    assert.ok(took >= 900 && took < 2500, `took ${took} ms`);
  }, {
    script: async () => {
      await delay(2500);
      return undefined;
    },
  });
});

Deno.test("nothing listening on the gRPC endpoint is UNAVAILABLE, retried within the timeout, then reported as retryable", async () => {
  const { outcome, took } = await exportOnce({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${unusedPort()}`,
    OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
  });
  assert.ok(!outcome.ok);
  assert.equal(outcome.retryable, true);
  assert.match(
    outcome.error.message,
    /\(gRPC (UNAVAILABLE|DEADLINE_EXCEEDED)\)/,
  );
  assert.ok(took < 3000, `took ${took} ms`);
});

Deno.test("the agent's metrics are pushed over gRPC to the Collector", async () => {
  await withCollector(async ({ collector, metrics }) => {
    const config = readTelemetryConfig("0", {
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "grpc",
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://${collector.listen}`,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${token}`,
    });
    assert.equal(config?.otlp?.transport.protocol, "grpc");
    const agent = await AgentMetrics.create({
      stats: () => undefined,
      resource: { "service.name": "spanbridge" },
      otlp: { ...config!.otlp!, intervalMs: 60_000 },
    });
    agent.recordExport({
      component: "otlp_grpc_span_exporter",
      seconds: 0.02,
      items: 100,
    });
    await agent.shutdown(); // pushes once
    assert.equal(metrics.bodies.length, 1);
  });
});

Deno.test("gRPC over TLS trusts OTEL_EXPORTER_OTLP_CERTIFICATE and presents the client certificate (mutual TLS)", async () => {
  let client: { cert: string; key: string } | undefined;
  let server: { cert: string; key: string } | undefined;
  await withCollector(
    async ({ collector, receiver }) => {
      // A name, not 127.0.0.1: over TLS, gRPC sends the host as the server
      // name, and Deno refuses an IP address there (see README).
      const endpoint = `https://localhost:${collector.listen.split(":")[1]}`;
      const { outcome: sent } = await exportOnce({
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_CERTIFICATE: server!.cert,
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: client!.cert,
        OTEL_EXPORTER_OTLP_CLIENT_KEY: client!.key,
      });
      assert.deepEqual(sent, { ok: true, rejected: 0, message: undefined });
      assert.equal(receiver.requests.length, 1);

      // Without a client certificate the handshake fails: nothing arrives.
      const { outcome: refused } = await exportOnce({
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_CERTIFICATE: server!.cert,
        OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
      });
      assert.ok(!refused.ok);
      assert.equal(receiver.requests.length, 1);
    },
    {},
    async (dir) => {
      server = await selfSigned(dir, "server");
      client = await selfSigned(dir, "client");
      return { ...server, clientCa: client.cert };
    },
  );
});

const gate = (name: string) => !ebpfAvailable(`gRPC export: ${name}`);

/** The agent's environment for the Collector's gRPC receiver. */
function agentEnv(collector: CollectorProcess): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${token}`,
  };
}

Deno.test({
  name:
    "over gRPC the agent counts spans the backend refuses (INVALID_ARGUMENT) as export_failed, offered once",
  ignore: gate("refused"),
  async fn() {
    await withCollector(async ({ collector, receiver }) => {
      const traced = await traceHello({
        tag: "grpc-refused",
        env: agentEnv(collector),
      });
      try {
        await runHello(traced.exe, { rate: 50, durationMs: 300 });
        await waitUntil(
          () =>
            traced.controller.logs.some((l) => /INVALID_ARGUMENT/.test(l.msg)),
          10_000,
          "a warning about INVALID_ARGUMENT",
        );
        const { code } = await traced.controller.stop();
        const s = await traced.controller.waitFor("stopped") as Record<
          string,
          number
        >;
        assert.ok(s.received > 0);
        assert.equal(s.received, s.exported + s.dropped, JSON.stringify(s));
        assert.equal(s.droppedExportFailed, s.received, JSON.stringify(s));
        assert.equal(code, 4);
        const offered = receiver.requests.reduce((n, r) => n + r.spans, 0);
        assert.equal(offered, s.received, "a refused request was retried");
      } finally {
        await traced.close();
      }
    }, {
      script: () => Promise.resolve(new Response("bad", { status: 400 })),
    });
  },
});

Deno.test({
  name:
    "over gRPC the agent's spans turned away as UNAVAILABLE are retried and all delivered, nothing dropped",
  ignore: gate("unavailable"),
  async fn() {
    await withCollector(async ({ collector, receiver }) => {
      const traced = await traceHello({
        tag: "grpc-unavailable",
        env: agentEnv(collector),
      });
      try {
        const run = await runHello(traced.exe, { rate: 50, durationMs: 300 });
        await waitUntil(
          () => receiver.requests.some((r) => r.status === 200),
          15_000,
          "an accepted request",
        );
        const { code } = await traced.controller.stop();
        const s = await traced.controller.waitFor("stopped") as Record<
          string,
          number
        >;
        assert.equal(s.dropped, 0, traced.controller.dump());
        assert.equal(code, 0);
        assertHelloRunsArrived(receiver.spans, [run]);
        assert.deepEqual(
          receiver.requests.slice(0, 2).map((r) => r.status),
          [503, 503],
        );
      } finally {
        await traced.close();
      }
    }, {
      script: (n) =>
        Promise.resolve(
          n < 2 ? new Response("later", { status: 503 }) : undefined,
        ),
    });
  },
});
