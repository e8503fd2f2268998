/**
 * The agent's health and self-metrics settings: where the HTTP listener
 * binds, when failing exports make the agent unready, and whether metrics are
 * also pushed over OTLP.
 *
 * @module
 */

import { type OtlpTransportConfig, readOtlpTransport } from "../export/mod.ts";

/** How the metrics are pushed over OTLP/HTTP (JSON bodies). */
export interface OtlpMetricsConfig {
  /** Endpoint, headers, timeout, compression and TLS (OTEL_EXPORTER_OTLP_(METRICS_)*). */
  transport: OtlpTransportConfig;
  /** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, default cumulative. */
  temporality: MetricsTemporality;
  /** Interval of the push (OTEL_METRIC_EXPORT_INTERVAL, ms), default {@linkcode defaultExportIntervalMs}. */
  intervalMs: number;
}

/** The temporality preferences of the OTLP metrics exporter specification. */
export type MetricsTemporality = "cumulative" | "delta" | "lowmemory";

/** Validated telemetry settings. */
export interface TelemetryConfig {
  /** Where the HTTP listener binds (loopback unless a host is given). */
  listen: { hostname: string; port: number };
  /** How long exports may fail before the agent reports not ready (ms). */
  exportFailingMs: number;
  /** Push metrics over OTLP/HTTP too: set when OTEL_METRICS_EXPORTER names otlp. */
  otlp?: OtlpMetricsConfig;
  /** The node this agent runs on (K8S_NODE_NAME, as the export configuration read it), for the metrics' resource. */
  nodeName?: string;
}

/** Default of SPANBRIDGE_TELEMETRY_EXPORT_FAILING: 60 s. */
export const defaultExportFailingMs = 60_000;

/** Default of OTEL_METRIC_EXPORT_INTERVAL: 60 s, the OpenTelemetry default. */
export const defaultExportIntervalMs = 60_000;

/**
 * The accepted ranges, in ms. The push interval is a timer, and Node timers
 * past 2^31-1 ms fire at once (3000000000 pushed 3,346 times in 12 s); a day
 * is far above any sane setting, and pushing more than 10 times a second
 * only loads the collector.
 */
export const telemetryBounds = {
  /** SPANBRIDGE_TELEMETRY_EXPORT_FAILING: 1 s to a day. */
  exportFailingMs: { min: 1_000, max: 86_400_000 },
  /** OTEL_METRIC_EXPORT_INTERVAL: 100 ms to a day. */
  exportIntervalMs: { min: 100, max: 86_400_000 },
};

/**
 * Reads the telemetry settings from the `--telemetry` flag value (or
 * SPANBRIDGE_TELEMETRY) and the environment. Returns undefined when the
 * listener was not asked for. Throws an Error naming the setting when a
 * value is invalid.
 *
 * `listen` is `PORT` (bound on 127.0.0.1) or `HOST:PORT`; `nodeName` is the
 * node the export configuration read (K8S_NODE_NAME), so that variable is
 * read in one place.
 */
export function readTelemetryConfig(
  listen: string | undefined,
  env: Record<string, string | undefined>,
  nodeName?: string,
): TelemetryConfig | undefined {
  const address = listen ?? env.SPANBRIDGE_TELEMETRY;
  if (address === undefined || address === "") return undefined;
  // Checked even when nothing is pushed: a typo is refused, not kept for later.
  const intervalMs = duration(
    "OTEL_METRIC_EXPORT_INTERVAL",
    env.OTEL_METRIC_EXPORT_INTERVAL,
    defaultExportIntervalMs,
    "milliseconds",
    telemetryBounds.exportIntervalMs,
  );
  return {
    listen: parseListen(address),
    exportFailingMs: duration(
      "SPANBRIDGE_TELEMETRY_EXPORT_FAILING",
      env.SPANBRIDGE_TELEMETRY_EXPORT_FAILING,
      defaultExportFailingMs,
      "seconds",
      telemetryBounds.exportFailingMs,
    ),
    ...(metricsExporter(env.OTEL_METRICS_EXPORTER) && {
      otlp: {
        transport: readOtlpTransport(env, "metrics"),
        temporality: temporality(
          env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
        ),
        intervalMs,
      },
    }),
    ...(nodeName ? { nodeName } : {}),
  };
}

function temporality(text: string | undefined): MetricsTemporality {
  const value = text?.trim().toLowerCase() || "cumulative";
  if (value === "cumulative" || value === "delta" || value === "lowmemory") {
    return value;
  }
  throw new Error(
    `Invalid OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE "${text}": expected cumulative, delta or lowmemory.`,
  );
}

function parseListen(text: string): { hostname: string; port: number } {
  const match = /^(?:(.*):)?([0-9]+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new Error(
      `Invalid telemetry address "${text}": expected PORT or HOST:PORT, e.g. 9464 or 0.0.0.0:9464.`,
    );
  }
  const host = match[1] ?? "127.0.0.1";
  // [::1]:9464 names an IPv6 host the way URLs do.
  return { hostname: host.replace(/^\[(.*)\]$/, "$1"), port };
}

/**
 * A duration in `unit` (seconds may have decimals, milliseconds are whole),
 * as ms within `bounds`; `fallbackMs` when unset.
 */
function duration(
  name: string,
  text: string | undefined,
  fallbackMs: number,
  unit: "seconds" | "milliseconds",
  bounds: { min: number; max: number },
): number {
  if (text === undefined || text.trim() === "") return fallbackMs;
  const seconds = unit === "seconds";
  // Plain digits: Number() would also take "Infinity", "1e3" and "0x10".
  const form = seconds ? /^[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/;
  const ms = form.test(text.trim()) ? Number(text) * (seconds ? 1000 : 1) : NaN;
  const [min, max] = seconds
    ? [bounds.min / 1000, bounds.max / 1000]
    : [bounds.min, bounds.max];
  if (!(ms >= bounds.min && ms <= bounds.max)) {
    throw new Error(
      `Invalid ${name} "${text}": expected ${
        seconds ? "a number of seconds" : "a whole number of milliseconds"
      } from ${min} to ${max}.`,
    );
  }
  return Math.round(ms);
}

function metricsExporter(text: string | undefined): boolean {
  const names = (text ?? "none").split(",").map((s) => s.trim()).filter(
    Boolean,
  );
  for (const name of names) {
    if (name !== "otlp" && name !== "none" && name !== "prometheus") {
      throw new Error(
        `Invalid OTEL_METRICS_EXPORTER "${text}": expected otlp, prometheus or none ` +
          "(the telemetry listener always serves Prometheus text at /metrics).",
      );
    }
  }
  return names.includes("otlp");
}
