import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  defaultBatchOptions,
  maxBatchOptions,
  readExportConfig,
} from "./config.ts";

Deno.test("readExportConfig defaults to OTLP over http/protobuf", () => {
  const c = readExportConfig({});
  strictEqual(c.exporter, "otlp");
  strictEqual(c.otlp.protocol, "http/protobuf");
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
  strictEqual(c.otlp.protocol, "http/json");
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
      /Invalid OTEL_EXPORTER_OTLP_HEADERS: the entry starting "authorization" is not key=value/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_HEADERS: "a=1,bad key=2" },
      /Invalid OTEL_EXPORTER_OTLP_TRACES_HEADERS: the entry starting "bad"/,
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
    signal: "traces",
    protocol: "http/protobuf",
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
    signal: "traces",
    protocol: "http/protobuf",
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

Deno.test("readExportConfig reads the certificate files once", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const { cert, key } = await pemPair(dir);
    const c = readExportConfig({
      OTEL_EXPORTER_OTLP_CERTIFICATE: `${dir}/cert.pem`,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: `${dir}/cert.pem`,
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: `${dir}/key.pem`,
      // Else the logs' transport would have a certificate without its key.
      OTEL_LOGS_EXPORTER: "none",
    }).otlp;
    const text = (b?: Uint8Array) => new TextDecoder().decode(b);
    deepStrictEqual(
      [text(c.ca), text(c.cert), text(c.key)],
      [cert, cert, key],
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readExportConfig holds every size to its documented range", () => {
  const cases: [string, string, number | RegExp][] = [
    ["OTEL_BSP_MAX_QUEUE_SIZE", "10000000", 10_000_000],
    ["OTEL_BSP_MAX_QUEUE_SIZE", "10000001", /exceeds the maximum of 10000000/],
    [
      "OTEL_BSP_MAX_QUEUE_SIZE",
      "99999999999999",
      /OTEL_BSP_MAX_QUEUE_SIZE: 99999999999999 exceeds the maximum/,
    ],
    ["OTEL_BSP_MAX_QUEUE_SIZE", "0", /is not a positive integer/],
    [
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      "10000001",
      /exceeds the maximum of 10000000/,
    ],
    ["OTEL_BSP_SCHEDULE_DELAY", "3600000", 3_600_000],
    ["OTEL_BSP_SCHEDULE_DELAY", "3600001", /exceeds the maximum of 3600000/],
    ["OTEL_EXPORTER_OTLP_TIMEOUT", "0", /is not a positive integer/],
    ["SPANBRIDGE_MAX_QUEUE_BYTES", "4G", 4 * 1024 ** 3],
    [
      "SPANBRIDGE_MAX_QUEUE_BYTES",
      "8000000G",
      /SPANBRIDGE_MAX_QUEUE_BYTES: 8000000G exceeds the maximum of 4096M/,
    ],
    [
      "SPANBRIDGE_MAX_QUEUE_BYTES",
      "4294967297",
      /exceeds the maximum of 4096M/,
    ],
    ["SPANBRIDGE_MAX_QUEUE_BYTES", "0", /is not a positive number of bytes/],
    ["SPANBRIDGE_MAX_QUEUE_BYTES", "-1", /is not a positive number of bytes/],
    ["SPANBRIDGE_MAX_EXPORT_BATCH_BYTES", "16M", 16 * 1024 ** 2],
    [
      "SPANBRIDGE_MAX_EXPORT_BATCH_BYTES",
      "1025M",
      /exceeds the maximum of 1024M/,
    ],
    ["SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES", "1G", 1024 ** 3],
    [
      "SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES",
      "2G",
      /exceeds the maximum of 1024M/,
    ],
  ];
  const field: Record<
    string,
    (c: ReturnType<typeof readExportConfig>) => number
  > = {
    OTEL_BSP_MAX_QUEUE_SIZE: (c) => c.batch.maxQueueSpans,
    OTEL_BSP_SCHEDULE_DELAY: (c) => c.batch.scheduleDelayMs,
    SPANBRIDGE_MAX_QUEUE_BYTES: (c) => c.batch.maxQueueBytes,
    SPANBRIDGE_MAX_EXPORT_BATCH_BYTES: (c) => c.batch.maxBatchBytes,
    SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES: (c) => c.batch.maxResourceCacheBytes,
  };
  for (const [name, value, expected] of cases) {
    const env = { [name]: value };
    if (expected instanceof RegExp) {
      throws(() => readExportConfig(env), expected, `${name}=${value}`);
    } else {
      strictEqual(field[name](readExportConfig(env)), expected, name);
    }
  }
  strictEqual(maxBatchOptions.spans, 10_000_000);
});

Deno.test("readExportConfig takes only true or false for OTEL_SDK_DISABLED", () => {
  for (const value of ["true", "TRUE", "True"]) {
    strictEqual(
      readExportConfig({ OTEL_SDK_DISABLED: value }).exporter,
      "none",
    );
  }
  for (const value of ["false", "FALSE", ""]) {
    strictEqual(
      readExportConfig({ OTEL_SDK_DISABLED: value }).exporter,
      "otlp",
    );
  }
  for (const value of ["yes", "1", "on", "no", "disabled"]) {
    throws(
      () => readExportConfig({ OTEL_SDK_DISABLED: value }),
      new RegExp(`Invalid OTEL_SDK_DISABLED: "${value}" is not true or false`),
    );
  }
});

Deno.test("readExportConfig never quotes credentials or header values in its errors", () => {
  const cases: Record<string, string>[] = [
    { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://alice:s3cr3t@collector:21" },
    { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "alice:s3cr3t@collector:4318" },
    { OTEL_EXPORTER_OTLP_HEADERS: "authorization: Bearer s3cr3t" },
    { OTEL_EXPORTER_OTLP_HEADERS: "x-api-key s3cr3t" },
  ];
  for (const env of cases) {
    throws(
      () => readExportConfig(env),
      (err: Error) => !err.message.includes("s3cr3t"),
      JSON.stringify(env),
    );
    throws(() => readExportConfig(env), /^Error: Invalid OTEL_/);
  }
});

/** A self-signed certificate and its key as PEM text, made with openssl. */
async function pemPair(dir: string): Promise<{ cert: string; key: string }> {
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=spanbridge-config-test",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  ok(out.success, new TextDecoder().decode(out.stderr));
  return {
    cert: Deno.readTextFileSync(`${dir}/cert.pem`),
    key: Deno.readTextFileSync(`${dir}/key.pem`),
  };
}

Deno.test("readExportConfig refuses certificate and key files that are not PEM", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { cert, key } = await pemPair(dir);
    const files: Record<string, string> = {
      "bundle.pem": `# two CAs\n${cert}${cert}`,
      "empty.pem": "",
      "text.pem": "not a certificate\n",
      "der.pem": "\x30\x82\x01\x0a",
      "broken.pem":
        "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
      "second-broken.pem":
        `${cert}-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n`,
      "key.pem": key,
      "broken.key":
        "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n",
    };
    for (const [name, text] of Object.entries(files)) {
      Deno.writeTextFileSync(`${dir}/${name}`, text);
    }
    const ca = (file: string) =>
      readExportConfig({ OTEL_EXPORTER_OTLP_CERTIFICATE: `${dir}/${file}` });
    strictEqual(
      new TextDecoder().decode(ca("bundle.pem").otlp.ca),
      files["bundle.pem"],
    );
    for (const file of ["empty.pem", "text.pem", "der.pem", "key.pem"]) {
      throws(
        () => ca(file),
        /Invalid OTEL_EXPORTER_OTLP_CERTIFICATE: ".*" holds no PEM certificate/,
        file,
      );
    }
    for (const file of ["broken.pem", "second-broken.pem"]) {
      throws(() => ca(file), /has a certificate that does not parse/, file);
    }
    const mtls = (certFile: string, keyFile: string) =>
      readExportConfig({
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: `${dir}/${certFile}`,
        OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: `${dir}/${keyFile}`,
        OTEL_LOGS_EXPORTER: "none",
      });
    ok(mtls("bundle.pem", "key.pem").otlp.key);
    throws(
      () => mtls("bundle.pem", "broken.key"),
      /Invalid OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: ".*broken.key" is not a PEM private key/,
    );
    throws(
      () => mtls("text.pem", "key.pem"),
      /Invalid OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: .* holds no PEM certificate/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
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
    /Invalid SPANBRIDGE_MAX_REQUEST_BODY_BYTES: 257M exceeds the maximum of 256M/,
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

Deno.test("readExportConfig reads log export from OTEL_LOGS_EXPORTER, OTEL_EXPORTER_OTLP_LOGS_* over the general variables, and OTEL_BLRP_*", () => {
  const defaults = readExportConfig({}).logs;
  deepStrictEqual(defaults, {
    exporter: "otlp",
    otlp: {
      signal: "logs",
      protocol: "http/protobuf",
      url: "http://localhost:4318/v1/logs",
      headers: {},
      timeoutMillis: 10_000,
      compression: "none",
    },
    batch: defaultBatchOptions,
  });
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector:4318/base/",
    OTEL_EXPORTER_OTLP_HEADERS: "a=1,b=2",
    OTEL_EXPORTER_OTLP_LOGS_HEADERS: "b=logs",
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: "b=traces",
    OTEL_EXPORTER_OTLP_TIMEOUT: "5000",
    OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: "6000",
    OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
    OTEL_BLRP_MAX_QUEUE_SIZE: "3000",
    OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: "300",
    OTEL_BLRP_SCHEDULE_DELAY: "30",
    OTEL_BSP_MAX_QUEUE_SIZE: "50000",
  };
  const c = readExportConfig(env);
  deepStrictEqual(c.logs, {
    exporter: "otlp",
    otlp: {
      signal: "logs",
      protocol: "http/json",
      url: "https://collector:4318/base/v1/logs",
      headers: { a: "1", b: "logs" },
      timeoutMillis: 6000,
      compression: "gzip",
    },
    batch: {
      ...defaultBatchOptions,
      maxQueueSpans: 3000,
      maxBatchSpans: 300,
      scheduleDelayMs: 30,
    },
  });
  // The traces' own variables stay theirs.
  strictEqual(c.otlp.protocol, "http/protobuf");
  deepStrictEqual(c.otlp.headers, { a: "1", b: "traces" });
  strictEqual(c.batch.maxQueueSpans, 50000);
  strictEqual(
    readExportConfig({
      ...env,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "http://l:1/x",
    })
      .logs.otlp.url,
    "http://l:1/x",
  );
  strictEqual(
    readExportConfig({
      ...env,
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "http/protobuf",
    })
      .logs.otlp.protocol,
    "http/protobuf",
  );
  for (const kind of ["console", "none"] as const) {
    strictEqual(
      readExportConfig({ OTEL_LOGS_EXPORTER: kind }).logs.exporter,
      kind,
    );
    strictEqual(
      readExportConfig({ OTEL_LOGS_EXPORTER: kind }).exporter,
      "otlp",
    );
  }
  strictEqual(
    readExportConfig({ OTEL_SDK_DISABLED: "true", OTEL_LOGS_EXPORTER: "otlp" })
      .logs.exporter,
    "none",
  );
});

Deno.test("readExportConfig names the log variable it refuses", () => {
  for (
    const [env, message] of [
      [
        { OTEL_LOGS_EXPORTER: "zipkin" },
        /Invalid OTEL_LOGS_EXPORTER: "zipkin"/,
      ],
      [
        { OTEL_LOGS_EXPORTER: "otlp,console" },
        /Invalid OTEL_LOGS_EXPORTER: .* names 2 exporters/,
      ],
      [
        { OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "http/xml" },
        /Invalid OTEL_EXPORTER_OTLP_LOGS_PROTOCOL/,
      ],
      [
        { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "ftp://x" },
        /Invalid OTEL_EXPORTER_OTLP_LOGS_ENDPOINT/,
      ],
      [
        { OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: "soon" },
        /Invalid OTEL_EXPORTER_OTLP_LOGS_TIMEOUT/,
      ],
      [{ OTEL_BLRP_MAX_QUEUE_SIZE: "0" }, /Invalid OTEL_BLRP_MAX_QUEUE_SIZE/],
      [
        {
          OTEL_BLRP_MAX_QUEUE_SIZE: "10",
          OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: "20",
        },
        /Invalid OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: 20 exceeds OTEL_BLRP_MAX_QUEUE_SIZE/,
      ],
      [
        { OTEL_BLRP_EXPORT_TIMEOUT: "1000" },
        /Unsupported OTEL_BLRP_EXPORT_TIMEOUT/,
      ],
    ] as const
  ) {
    throws(() => readExportConfig(env), message, JSON.stringify(env));
  }
});

Deno.test("readExportConfig bounds a gRPC request at the gRPC message limit unless told otherwise", () => {
  const grpc = { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" };
  strictEqual(readExportConfig(grpc).batch.maxRequestBodyBytes, 4 << 20);
  strictEqual(
    readExportConfig({ ...grpc, SPANBRIDGE_MAX_REQUEST_BODY_BYTES: "8M" })
      .batch.maxRequestBodyBytes,
    8 << 20,
  );
  strictEqual(readExportConfig({}).batch.maxRequestBodyBytes, 16 << 20);
  // Each signal by its own protocol.
  const logsOverGrpc = readExportConfig({
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "grpc",
  });
  strictEqual(logsOverGrpc.logs.otlp.protocol, "grpc");
  strictEqual(logsOverGrpc.logs.otlp.url, "http://localhost:4317/");
  strictEqual(logsOverGrpc.logs.batch.maxRequestBodyBytes, 4 << 20);
  strictEqual(logsOverGrpc.batch.maxRequestBodyBytes, 16 << 20);
});
