import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { equals, fromBinary } from "@bufbuild/protobuf";
import {
  type TracesData,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import {
  richTraces,
  sampleBatch,
  sampleSpans,
  sampleTraces,
} from "../../testing/traces.ts";
import { OtlpBatch } from "../otlp/mod.ts";
import {
  type LogsData,
  LogsDataSchema,
} from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import {
  createTraceHandler,
  type OtlpFormat,
  type ReceiverOptions,
  startReceiver,
} from "../receive/mod.ts";
import { readExportConfig } from "./config.ts";
import { createOtlpExporter } from "./otlp_exporter.ts";
import {
  type OtlpTransportConfig,
  otlpTransportConfig,
} from "./otlp_transport.ts";

interface Got {
  traces: TracesData;
  format: OtlpFormat;
  headers: Headers;
}

const richRequest = (): OtlpBatch => sampleBatch(richTraces());

/** Exports `request` once to a fresh receiver and returns what it saw. */
async function exportOnce(
  options: Partial<OtlpTransportConfig>,
  request = richRequest(),
  receiverOptions: ReceiverOptions = {},
) {
  const got: Got[] = [];
  const receiver = await startReceiver({
    port: 0,
    ...receiverOptions,
    onTraces: (traces, format, req) =>
      got.push({ traces, format, headers: req.headers }),
  });
  const exporter = createOtlpExporter(
    otlpTransportConfig("traces", { url: receiver.url, ...options }),
  );
  try {
    const outcome = await exporter.export(request);
    return { outcome, got };
  } finally {
    await exporter.shutdown();
    await receiver.close();
  }
}

function sameTraces(got: TracesData, sent: OtlpBatch) {
  ok(equals(TracesDataSchema, got, sent.toTracesData()), "traces differ");
}

for (const protocol of ["http/protobuf", "http/json"] as const) {
  Deno.test(`OTLP exporter delivers spans exactly over ${protocol}`, async () => {
    const request = richRequest();
    const { outcome, got } = await exportOnce({ protocol }, request);
    deepStrictEqual(outcome, { ok: true, rejected: 0, message: undefined });
    strictEqual(got.length, 1);
    strictEqual(got[0].format, protocol === "http/json" ? "json" : "protobuf");
    sameTraces(got[0].traces, request);
    const span = got[0].traces.resourceSpans[0].scopeSpans[0].spans[0];
    strictEqual(span.startTimeUnixNano, 1732450000123456789n);
  });

  Deno.test(`OTLP exporter compresses with gzip and sends headers over ${protocol}`, async () => {
    const request = richRequest();
    const { outcome, got } = await exportOnce({
      protocol,
      compression: "gzip",
      headers: { "x-tenant": "t1" },
    }, request);
    ok(outcome.ok);
    strictEqual(got[0].headers.get("content-encoding"), "gzip");
    strictEqual(got[0].headers.get("x-tenant"), "t1");
    sameTraces(got[0].traces, request);
  });

  Deno.test(`OTLP exporter reports a partial success over ${protocol}`, async () => {
    const { outcome } = await exportOnce({ protocol }, richRequest(), {
      partialSuccess: () => ({
        rejectedSpans: 1,
        errorMessage: "span too old",
      }),
    });
    deepStrictEqual(outcome, {
      ok: true,
      rejected: 1,
      message: "span too old",
    });
  });
}

Deno.test("OTLP exporter sends to the endpoint and headers of the validated OTEL_EXPORTER_OTLP_* config, never the process environment", async () => {
  const got: Got[] = [];
  const receiver = await startReceiver({
    port: 0,
    onTraces: (traces, format, req) =>
      got.push({ traces, format, headers: req.headers }),
  });
  const config = readExportConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.addr}`,
    OTEL_EXPORTER_OTLP_HEADERS: "x-a=1,x-b=two%20words",
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-b=3",
  });
  // What OpenTelemetry JS would read on its own must change nothing.
  const stray = {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:1/v1/traces",
    OTEL_EXPORTER_OTLP_HEADERS: "x-stray=1",
  };
  for (const [k, v] of Object.entries(stray)) Deno.env.set(k, v);
  try {
    const exporter = createOtlpExporter(config.otlp);
    ok((await exporter.export(richRequest())).ok);
    await exporter.shutdown();
    strictEqual(got[0].headers.get("x-a"), "1");
    strictEqual(got[0].headers.get("x-b"), "3");
    strictEqual(got[0].headers.get("x-stray"), null);
    strictEqual(got[0].headers.get("content-type"), "application/x-protobuf");
  } finally {
    for (const k of Object.keys(stray)) Deno.env.delete(k);
    await receiver.close();
  }
});

Deno.test("OTLP exporter retries a 503 and then succeeds", async () => {
  const handler = createTraceHandler();
  let calls = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      if (calls++ === 0) {
        return new Response("busy", {
          status: 503,
          headers: { "retry-after": "1" },
        });
      }
      return handler.handle(req);
    },
  );
  const exporter = createOtlpExporter(otlpTransportConfig("traces", {
    url: `http://127.0.0.1:${server.addr.port}/v1/traces`,
    timeoutMillis: 5000,
  }));
  try {
    const outcome = await exporter.export(richRequest());
    ok(outcome.ok);
    strictEqual(calls, 2);
    strictEqual(handler.counters().spans, 2);
  } finally {
    await exporter.shutdown();
    await server.shutdown();
  }
});

Deno.test("OTLP exporter fails on a 400 without retrying", async () => {
  let calls = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => {
      calls++;
      return new Response("no", { status: 400 });
    },
  );
  const exporter = createOtlpExporter(otlpTransportConfig("traces", {
    url: `http://127.0.0.1:${server.addr.port}/v1/traces`,
  }));
  try {
    const outcome = await exporter.export(richRequest());
    strictEqual(outcome.ok, false);
    ok(
      !outcome.ok && /HTTP 400/.test(outcome.error.message),
      !outcome.ok ? outcome.error.message : "",
    );
    strictEqual(calls, 1);
  } finally {
    await exporter.shutdown();
    await server.shutdown();
  }
});

Deno.test("OTLP exporter fails on a 413 without retrying and names the body limit to lower", async () => {
  let calls = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      calls++;
      await req.arrayBuffer();
      return new Response("request body too large", { status: 413 });
    },
  );
  const exporter = createOtlpExporter(otlpTransportConfig("traces", {
    url: `http://127.0.0.1:${server.addr.port}/v1/traces`,
  }));
  try {
    const outcome = await exporter.export(richRequest());
    ok(!outcome.ok && !outcome.retryable, "not retryable");
    ok(
      !outcome.ok &&
        /HTTP 413.*SPANBRIDGE_MAX_REQUEST_BODY_BYTES/.test(
          outcome.error.message,
        ),
      !outcome.ok ? outcome.error.message : "",
    );
    strictEqual(calls, 1);
  } finally {
    await exporter.shutdown();
    await server.shutdown();
  }
});

Deno.test("OTLP exporter gives up on an unreachable endpoint within its timeout", async () => {
  const exporter = createOtlpExporter(otlpTransportConfig("traces", {
    url: "http://127.0.0.1:9/v1/traces",
    timeoutMillis: 1500,
  }));
  const started = Date.now();
  const outcome = await exporter.export(richRequest());
  await exporter.shutdown();
  strictEqual(outcome.ok, false);
  ok(
    !outcome.ok &&
      outcome.error.message.startsWith(
        "Cannot export spans to http://127.0.0.1:9/v1/traces: ",
      ),
  );
  ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

Deno.test("OTLP exporter matches each partial success to its own request", async () => {
  const receiver = await startReceiver({
    port: 0,
    partialSuccess: (t) =>
      t.resourceSpans[0].scopeSpans[0].spans.length === 3
        ? { rejectedSpans: 1, errorMessage: "one of three" }
        : undefined,
  });
  const exporter = createOtlpExporter(
    otlpTransportConfig("traces", { url: receiver.url }),
  );
  const request = (n: number) => {
    const traces = richTraces();
    for (const rs of traces.resourceSpans) {
      rs.scopeSpans[0].spans = [
        ...rs.scopeSpans[0].spans,
        ...rs.scopeSpans[0].spans,
      ].slice(0, n);
    }
    return sampleBatch(traces);
  };
  try {
    const outcomes = await Promise.all(
      [2, 3, 2, 3, 2].map((n) => exporter.export(request(n))),
    );
    deepStrictEqual(outcomes.map((o) => o.ok && o.rejected), [0, 1, 0, 1, 0]);
  } finally {
    await exporter.shutdown();
    await receiver.close();
  }
});

Deno.test("OTLP exporter reuses a request body only after its export was answered, retries included", async () => {
  const handler = createTraceHandler();
  const got: TracesData[] = [];
  let calls = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      if (calls++ === 0) {
        return new Response("busy", {
          status: 503,
          headers: { "retry-after": "1" },
        });
      }
      const copy = req.clone();
      const res = await handler.handle(req);
      got.push(
        fromBinary(TracesDataSchema, new Uint8Array(await copy.arrayBuffer())),
      );
      return res;
    },
  );
  const exporter = createOtlpExporter(otlpTransportConfig("traces", {
    url: `http://127.0.0.1:${server.addr.port}/v1/traces`,
    timeoutMillis: 5000,
  }));
  // The second and third requests are sent while the first waits for its
  // retry: had its body gone back to the pool, they would be written over it.
  const first = sampleBatch(sampleTraces(sampleSpans(40, 1)));
  const second = sampleBatch(sampleTraces(sampleSpans(30, 2)));
  const third = sampleBatch(sampleTraces(sampleSpans(20, 3)));
  try {
    const retried = exporter.export(first);
    while (calls === 0) await new Promise((r) => setTimeout(r, 10));
    ok((await exporter.export(second)).ok);
    ok((await exporter.export(third)).ok, "a smaller body in a reused buffer");
    ok((await retried).ok);
    strictEqual(got.length, 3);
    sameTraces(got[0], second);
    sameTraces(got[1], third);
    sameTraces(got[2], first);
  } finally {
    await exporter.shutdown();
    await server.shutdown();
  }
});

for (const protocol of ["http/protobuf", "http/json"] as const) {
  Deno.test(`OTLP exporter delivers log records exactly to /v1/logs over ${protocol}, with their partial success`, async () => {
    const got: { logs: LogsData; format: OtlpFormat; path: string }[] = [];
    const receiver = await startReceiver({
      port: 0,
      onTraces: () => {
        throw new Error("log records sent as traces");
      },
      onLogs: (logs, format, req) =>
        got.push({ logs, format, path: new URL(req.url).pathname }),
      logsPartialSuccess: () => ({
        rejectedLogRecords: 2,
        errorMessage: "too old",
      }),
    });
    // The endpoint as OTEL_EXPORTER_OTLP_ENDPOINT gives it: the transport
    // appends the signal's path.
    const config = readExportConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.addr}`,
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: protocol,
    }).logs.otlp;
    const exporter = createOtlpExporter(config);
    const logs = sampleLogs(sampleLogRecords(5));
    try {
      const outcome = await exporter.export(OtlpBatch.fromLogsData(logs));
      deepStrictEqual(outcome, { ok: true, rejected: 2, message: "too old" });
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
    strictEqual(got.length, 1);
    strictEqual(got[0].path, "/v1/logs");
    strictEqual(got[0].format, protocol === "http/json" ? "json" : "protobuf");
    ok(equals(LogsDataSchema, got[0].logs, logs), "log records differ");
    strictEqual(receiver.counters().logRecords, 3);
  });
}

Deno.test("OTLP exporter names log records when their export fails", async () => {
  const receiver = await startReceiver({ port: 0 });
  await receiver.close();
  const exporter = createOtlpExporter(
    otlpTransportConfig("logs", {
      url: receiver.logsUrl,
      timeoutMillis: 500,
    }),
  );
  try {
    const outcome = await exporter.export(
      OtlpBatch.fromLogsData(sampleLogs(sampleLogRecords(1))),
    );
    ok(!outcome.ok);
    ok(
      outcome.error.message.startsWith(
        `Cannot export log records to ${receiver.logsUrl}`,
      ),
      outcome.error.message,
    );
  } finally {
    await exporter.shutdown();
  }
});
