import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { defaultBatchOptions, readExportConfig } from "./config.ts";

Deno.test("readExportConfig defaults to OTLP over http/protobuf", () => {
  const c = readExportConfig({});
  strictEqual(c.exporter, "otlp");
  strictEqual(c.protocol, "http/protobuf");
  deepStrictEqual(c.batch, defaultBatchOptions);
});

Deno.test("readExportConfig reads exporter, protocol and batch variables", () => {
  const c = readExportConfig({
    OTEL_TRACES_EXPORTER: "console",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
    OTEL_BSP_MAX_QUEUE_SIZE: "5000",
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "500",
    OTEL_BSP_SCHEDULE_DELAY: "50",
    OTEL_SERVICE_NAME: "svc",
  });
  strictEqual(c.exporter, "console");
  strictEqual(c.protocol, "http/json");
  deepStrictEqual(c.batch, {
    ...defaultBatchOptions,
    maxQueueSpans: 5000,
    maxBatchSpans: 500,
    scheduleDelayMs: 50,
  });
  strictEqual(c.resource.serviceName, "svc");
});

Deno.test("readExportConfig: OTEL_SDK_DISABLED=true means no export", () => {
  strictEqual(
    readExportConfig({
      OTEL_SDK_DISABLED: "TRUE",
      OTEL_TRACES_EXPORTER: "otlp",
    }).exporter,
    "none",
  );
  strictEqual(
    readExportConfig({ OTEL_SDK_DISABLED: "false" }).exporter,
    "otlp",
  );
});

Deno.test("readExportConfig accepts well-formed OTLP headers", () => {
  readExportConfig({
    OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc, x-tenant=a=b,",
  });
});

Deno.test("readExportConfig rejects bad values with the variable named", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      /OTEL_EXPORTER_OTLP_PROTOCOL: OTLP over grpc is not supported/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "thrift" },
      /Invalid OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "thrift"/,
    ],
    [
      { OTEL_TRACES_EXPORTER: "zipkin" },
      /Invalid OTEL_TRACES_EXPORTER: "zipkin" is not one of otlp, console, none/,
    ],
    [{ OTEL_TRACES_EXPORTER: "otlp,console" }, /names 2 exporters/],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318" },
      /Invalid OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318"/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "not a url" },
      /Invalid OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TIMEOUT: "soon" },
      /Invalid OTEL_EXPORTER_OTLP_TIMEOUT: "soon" is not a positive integer/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "zstd" },
      /Invalid OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "zstd"/,
    ],
    [
      { OTEL_EXPORTER_OTLP_HEADERS: "authorization" },
      /Invalid OTEL_EXPORTER_OTLP_HEADERS: "authorization" is not key=value/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_HEADERS: "a=1,bad key=2" },
      /Invalid OTEL_EXPORTER_OTLP_TRACES_HEADERS: "bad key=2"/,
    ],
    [
      { OTEL_EXPORTER_OTLP_HEADERS: "x-token=%zz" },
      /the value of "x-token" is not valid percent-encoding/,
    ],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: "0" }, /Invalid OTEL_BSP_MAX_QUEUE_SIZE/],
    [
      { OTEL_BSP_MAX_QUEUE_SIZE: "10", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "20" },
      /exceeds OTEL_BSP_MAX_QUEUE_SIZE/,
    ],
    [{ OTEL_RESOURCE_ATTRIBUTES: "a" }, /Invalid OTEL_RESOURCE_ATTRIBUTES/],
  ];
  for (const [env, message] of cases) {
    throws(() => readExportConfig(env), message, JSON.stringify(env));
  }
});
