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
    [
      { OTEL_EXPORTER_OTLP_HEADERS: "x-a=1%0Ax-b: 2" },
      /the value of "x-a" holds a control character/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-a=%00" },
      /the value of "x-a" holds a control character/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TIMEOUT: "99999999999" },
      /99999999999 exceeds the maximum of 3600000/,
    ],
    [
      { OTEL_BSP_SCHEDULE_DELAY: "86400000" },
      /OTEL_BSP_SCHEDULE_DELAY: 86400000 exceeds the maximum/,
    ],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: "1e3" }, /"1e3" is not a positive integer/],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: "1e20" }, /"1e20" is not a positive integer/],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: "0x10" }, /"0x10" is not a positive integer/],
    [
      { OTEL_BSP_MAX_QUEUE_SIZE: "99999999999999999999" },
      /exceeds the maximum/,
    ],
    [{ OTEL_BSP_EXPORT_TIMEOUT: "30000" }, /set OTEL_EXPORTER_OTLP_TIMEOUT/],
    [
      { OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: "/nonexistent.pem" },
      /Invalid OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: cannot read/,
    ],
    [
      { OTEL_EXPORTER_OTLP_CLIENT_KEY: "/etc/hostname" },
      /mutual TLS needs both/,
    ],
  ];
  for (const [env, message] of cases) {
    throws(() => readExportConfig(env), message, JSON.stringify(env));
  }
});

Deno.test("readExportConfig resolves the OTLP transport settings, TRACES_ variables first", () => {
  deepStrictEqual(readExportConfig({}).otlp, {
    url: "http://localhost:4318/v1/traces",
    headers: {},
    timeoutMillis: 10_000,
    compression: "none",
  });
  const c = readExportConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector:4318/base/",
    OTEL_EXPORTER_OTLP_HEADERS: "a=1,b=two%20words",
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: "b=3",
    OTEL_EXPORTER_OTLP_TIMEOUT: "5000",
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "7000",
    OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
  }).otlp;
  deepStrictEqual(c, {
    url: "https://collector:4318/base/v1/traces",
    headers: { a: "1", b: "3" },
    timeoutMillis: 7000,
    compression: "gzip",
  });
  strictEqual(
    readExportConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:1",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:2/custom",
    }).otlp.url,
    "http://b:2/custom",
  );
});

Deno.test("readExportConfig reads the certificate files once", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const pem =
      "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
    for (const f of ["ca", "cert", "key"]) {
      Deno.writeTextFileSync(`${dir}/${f}.pem`, `${f} ${pem}`);
    }
    const c = readExportConfig({
      OTEL_EXPORTER_OTLP_CERTIFICATE: `${dir}/ca.pem`,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: `${dir}/cert.pem`,
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: `${dir}/key.pem`,
    }).otlp;
    const text = (b?: Uint8Array) => new TextDecoder().decode(b);
    deepStrictEqual(
      [text(c.ca), text(c.cert), text(c.key)],
      [`ca ${pem}`, `cert ${pem}`, `key ${pem}`],
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readExportConfig reads SPANBRIDGE_MAX_REQUEST_BODY_BYTES within its bounds", () => {
  strictEqual(defaultBatchOptions.maxRequestBodyBytes < 20 << 20, true);
  strictEqual(
    readExportConfig({ SPANBRIDGE_MAX_REQUEST_BODY_BYTES: "8M" }).batch
      .maxRequestBodyBytes,
    8 << 20,
  );
  throws(
    () => readExportConfig({ SPANBRIDGE_MAX_REQUEST_BODY_BYTES: "257M" }),
    /Invalid SPANBRIDGE_MAX_REQUEST_BODY_BYTES: 257M exceeds the maximum of 268435456 bytes/,
  );
  throws(
    () => readExportConfig({ SPANBRIDGE_MAX_REQUEST_BODY_BYTES: "0" }),
    /Invalid SPANBRIDGE_MAX_REQUEST_BODY_BYTES: "0" is not a positive number/,
  );
  throws(
    () =>
      readExportConfig({
        SPANBRIDGE_MAX_REQUEST_BODY_BYTES: "2M",
        SPANBRIDGE_MAX_EXPORT_BATCH_BYTES: "4M",
      }),
    /Invalid SPANBRIDGE_MAX_EXPORT_BATCH_BYTES: 4194304 exceeds SPANBRIDGE_MAX_REQUEST_BODY_BYTES \(2097152\)/,
  );
});
