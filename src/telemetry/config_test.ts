import assert from "node:assert/strict";
import { defaultExportFailingMs, readTelemetryConfig } from "./config.ts";

Deno.test("readTelemetryConfig is off unless an address is given", () => {
  assert.equal(readTelemetryConfig(undefined, {}), undefined);
  assert.equal(
    readTelemetryConfig(undefined, { SPANBRIDGE_TELEMETRY: "" }),
    undefined,
  );
});

Deno.test("readTelemetryConfig binds a bare port on loopback", () => {
  const config = readTelemetryConfig("9464", {});
  assert.deepEqual(config, {
    listen: { hostname: "127.0.0.1", port: 9464 },
    exportFailingMs: defaultExportFailingMs,
  });
});

Deno.test("readTelemetryConfig takes host:port, the flag over the environment", () => {
  assert.deepEqual(
    readTelemetryConfig("0.0.0.0:8080", { SPANBRIDGE_TELEMETRY: "1" })?.listen,
    { hostname: "0.0.0.0", port: 8080 },
  );
  assert.deepEqual(
    readTelemetryConfig(undefined, { SPANBRIDGE_TELEMETRY: "[::1]:9" })?.listen,
    { hostname: "::1", port: 9 },
  );
});

Deno.test("readTelemetryConfig reads the threshold, the interval and OTEL_METRICS_EXPORTER", () => {
  const config = readTelemetryConfig("0", {
    SPANBRIDGE_TELEMETRY_EXPORT_FAILING: "2.5",
    OTEL_METRICS_EXPORTER: "prometheus,otlp",
    OTEL_METRIC_EXPORT_INTERVAL: "500",
  });
  assert.equal(config?.exportFailingMs, 2500);
  assert.equal(config?.otlp?.transport.url, "http://localhost:4318/v1/metrics");
  assert.equal(config?.otlp?.temporality, "cumulative");
  assert.equal(config?.otlp?.intervalMs, 500);
});

Deno.test("readTelemetryConfig reads the OTLP metrics transport, the METRICS_ variables over the general ones", () => {
  const config = readTelemetryConfig("0", {
    OTEL_METRICS_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://gateway:4318",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces:4318/v1/traces",
    OTEL_EXPORTER_OTLP_HEADERS: "a=1,b=2",
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: "b=3",
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: "2500",
    OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: "Delta",
  }, "node-7");
  assert.deepEqual(config?.otlp, {
    transport: {
      signal: "metrics",
      protocol: "http/json",
      url: "http://gateway:4318/v1/metrics",
      headers: { a: "1", b: "3" },
      timeoutMillis: 2500,
      compression: "gzip",
    },
    temporality: "delta",
    intervalMs: 60_000,
  });
  assert.equal(config?.nodeName, "node-7");
});

Deno.test("readTelemetryConfig reads no OTLP metrics variable unless OTEL_METRICS_EXPORTER names otlp", () => {
  const config = readTelemetryConfig("0", {
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "not a url",
  });
  assert.equal(config?.otlp, undefined);
});

Deno.test("readTelemetryConfig names the setting that is invalid", () => {
  assert.throws(
    () => readTelemetryConfig("host:", {}),
    /telemetry address "host:"/,
  );
  assert.throws(() => readTelemetryConfig("70000", {}), /telemetry address/);
  assert.throws(
    () =>
      readTelemetryConfig("1", { SPANBRIDGE_TELEMETRY_EXPORT_FAILING: "-1" }),
    /SPANBRIDGE_TELEMETRY_EXPORT_FAILING "-1"/,
  );
  assert.throws(
    () => readTelemetryConfig("1", { OTEL_METRICS_EXPORTER: "zipkin" }),
    /OTEL_METRICS_EXPORTER "zipkin"/,
  );
  assert.throws(
    () => readTelemetryConfig("1", { OTEL_METRIC_EXPORT_INTERVAL: "x" }),
    /OTEL_METRIC_EXPORT_INTERVAL "x"/,
  );
  assert.throws(
    () =>
      readTelemetryConfig("1", {
        OTEL_METRICS_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "grpc://x",
      }),
    /OTEL_EXPORTER_OTLP_METRICS_ENDPOINT/,
  );
  assert.throws(
    () =>
      readTelemetryConfig("1", {
        OTEL_METRICS_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: "sometimes",
      }),
    /OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE "sometimes"/,
  );
});

Deno.test("readTelemetryConfig holds the interval and the threshold to their documented ranges", () => {
  const cases: [string, string, number | RegExp][] = [
    ["OTEL_METRIC_EXPORT_INTERVAL", "100", 100],
    ["OTEL_METRIC_EXPORT_INTERVAL", "86400000", 86_400_000],
    [
      "OTEL_METRIC_EXPORT_INTERVAL",
      "3000000000",
      /Invalid OTEL_METRIC_EXPORT_INTERVAL "3000000000": expected a whole number of milliseconds from 100 to 86400000/,
    ],
    ["OTEL_METRIC_EXPORT_INTERVAL", "86400001", /from 100 to 86400000/],
    ["OTEL_METRIC_EXPORT_INTERVAL", "99", /from 100 to 86400000/],
    ["OTEL_METRIC_EXPORT_INTERVAL", "0", /from 100 to 86400000/],
    ["OTEL_METRIC_EXPORT_INTERVAL", "0.001", /from 100 to 86400000/],
    ["OTEL_METRIC_EXPORT_INTERVAL", "Infinity", /from 100 to 86400000/],
    ["OTEL_METRIC_EXPORT_INTERVAL", "1e4", /from 100 to 86400000/],
    ["OTEL_METRIC_EXPORT_INTERVAL", "0x1000", /from 100 to 86400000/],
    ["SPANBRIDGE_TELEMETRY_EXPORT_FAILING", "1", 1000],
    ["SPANBRIDGE_TELEMETRY_EXPORT_FAILING", "2.5", 2500],
    ["SPANBRIDGE_TELEMETRY_EXPORT_FAILING", "86400", 86_400_000],
    [
      "SPANBRIDGE_TELEMETRY_EXPORT_FAILING",
      "86401",
      /Invalid SPANBRIDGE_TELEMETRY_EXPORT_FAILING "86401": expected a number of seconds from 1 to 86400/,
    ],
    ["SPANBRIDGE_TELEMETRY_EXPORT_FAILING", "0.5", /from 1 to 86400/],
    ["SPANBRIDGE_TELEMETRY_EXPORT_FAILING", "Infinity", /from 1 to 86400/],
    ["SPANBRIDGE_TELEMETRY_EXPORT_FAILING", "-1", /from 1 to 86400/],
  ];
  for (const [name, value, expected] of cases) {
    // The interval is the push's: it is kept where the push is configured.
    const read = () =>
      readTelemetryConfig("1", {
        [name]: value,
        OTEL_METRICS_EXPORTER: "otlp",
      })!;
    if (expected instanceof RegExp) {
      assert.throws(read, expected, `${name}=${value}`);
    } else {
      const config = read();
      assert.equal(
        name === "OTEL_METRIC_EXPORT_INTERVAL"
          ? config.otlp?.intervalMs
          : config.exportFailingMs,
        expected,
        `${name}=${value}`,
      );
    }
  }
});
