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
    otlp: false,
    exportIntervalMs: 60_000,
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
  assert.equal(config?.otlp, true);
  assert.equal(config?.exportIntervalMs, 500);
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
});
