import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  createOtlpTransport,
  type OtlpEncoding,
  otlpTransportConfig,
  readOtlpTransport,
} from "./otlp_transport.ts";

Deno.test("readOtlpTransport defaults each signal to its own path on localhost:4318", () => {
  for (const signal of ["traces", "metrics", "logs"] as const) {
    deepStrictEqual(readOtlpTransport({}, signal), {
      signal,
      protocol: "http/protobuf",
      url: `http://localhost:4318/v1/${signal}`,
      headers: {},
      timeoutMillis: 10_000,
      compression: "none",
    });
    deepStrictEqual(readOtlpTransport({}, signal), otlpTransportConfig(signal));
  }
});

Deno.test("readOtlpTransport takes the signal's variables over the general ones, and no other signal's", () => {
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: "https://gateway:4318/base",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces:4318/v1/traces",
    OTEL_EXPORTER_OTLP_HEADERS: "a=1,b=2",
    OTEL_EXPORTER_OTLP_LOGS_HEADERS: "b=3",
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: "c=4",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_TIMEOUT: "5000",
    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: "7000",
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "gzip",
  };
  deepStrictEqual(readOtlpTransport(env, "logs"), {
    signal: "logs",
    protocol: "http/json",
    url: "https://gateway:4318/base/v1/logs",
    headers: { a: "1", b: "3" },
    timeoutMillis: 7000,
    compression: "none",
  });
  const traces = readOtlpTransport(env, "traces");
  strictEqual(traces.url, "http://traces:4318/v1/traces");
  strictEqual(traces.compression, "gzip");
  throws(
    () => readOtlpTransport({ OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "x" }, "logs"),
    /Invalid OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "x"/,
  );
});

Deno.test("readOtlpTransport over grpc: port 4317 by default, the endpoint as it is, TLS by host name", () => {
  const grpc = { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" };
  strictEqual(readOtlpTransport(grpc, "traces").url, "http://localhost:4317/");
  deepStrictEqual(
    readOtlpTransport(grpc, "metrics"),
    otlpTransportConfig("metrics", { protocol: "grpc" }),
  );
  strictEqual(
    readOtlpTransport({
      ...grpc,
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector:4317",
    }, "logs").url,
    "https://collector:4317/",
  );
  strictEqual(
    readOtlpTransport({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc",
    }, "traces").url,
    "http://collector:4318/",
  );
  throws(
    () =>
      readOtlpTransport({
        ...grpc,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://10.0.0.7:4317",
      }, "traces"),
    /Invalid OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: over grpc with https, name the host .* not the IP address 10\.0\.0\.7/,
  );
  throws(
    () =>
      readOtlpTransport({
        ...grpc,
        OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=a,x!key=b",
      }, "traces"),
    /Invalid OTEL_EXPORTER_OTLP_HEADERS: "x!key" is not a gRPC metadata key/,
  );
});

const text: OtlpEncoding<string, string> = {
  serializer: {
    serializeRequest: (request) => new TextEncoder().encode(request),
    deserializeResponse: (data) => new TextDecoder().decode(data),
  },
  items: { name: "log", countItems: () => 1 },
};

Deno.test("createOtlpTransport sends to the signal's URL with its headers and returns the answer", async () => {
  const seen: { path: string; token: string | null; body: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      seen.push({
        path: new URL(req.url).pathname,
        token: req.headers.get("x-token"),
        body: await req.text(),
      });
      return new Response("answer");
    },
  );
  const transport = createOtlpTransport(
    readOtlpTransport({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: "x-token=s3cret",
    }, "logs"),
    text,
  );
  try {
    deepStrictEqual(await transport.send("hello"), {
      ok: true,
      response: "answer",
    });
    deepStrictEqual(seen, [{
      path: "/v1/logs",
      token: "s3cret",
      body: "hello",
    }]);
  } finally {
    await transport.shutdown();
    await server.shutdown();
  }
});

Deno.test("createOtlpTransport says what failed, whether to retry, and never a header value", async () => {
  let status = 400;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      await req.text();
      return new Response(`refused x-token=s3cret`, { status });
    },
  );
  const config = otlpTransportConfig("logs", {
    url: `http://127.0.0.1:${server.addr.port}/v1/logs`,
    headers: { "x-token": "s3cret" },
    timeoutMillis: 1500,
  });
  const transport = createOtlpTransport(config, text);
  try {
    const refused = await transport.send("hello");
    ok(!refused.ok);
    strictEqual(refused.retryable, false);
    ok(
      refused.error.message.startsWith(
        `Cannot export log records to ${config.url}: `,
      ),
      refused.error.message,
    );
    ok(refused.error.message.includes("(HTTP 400)"), refused.error.message);
    ok(!refused.error.message.includes("s3cret"), refused.error.message);
    status = 503;
    const unavailable = await transport.send("hello");
    ok(!unavailable.ok);
    strictEqual(unavailable.retryable, true);
  } finally {
    await transport.shutdown();
    await server.shutdown();
  }
});
