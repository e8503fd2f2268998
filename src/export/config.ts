/**
 * The OTEL_* variables that choose and shape span export, validated up front
 * so a typo stops the controller with a clear message instead of silently
 * falling back to a default (which OpenTelemetry JS would do with a warning
 * nobody sees). The OTLP transport variables themselves (endpoint, headers,
 * timeout, compression, certificates) are read by OpenTelemetry JS from the
 * process environment; here they are only checked.
 *
 * @module
 */

import type { OtlpHttpProtocol } from "./otlp_exporter.ts";
import { readResourceEnv, type ResourceEnv } from "./resource.ts";

/** Where spans go (OTEL_TRACES_EXPORTER). */
export type ExporterKind = "otlp" | "console" | "none";

/** Sizes and timing of the export queue (OTEL_BSP_* variables). */
export interface BatchOptions {
  /** Spans held at most; more are dropped and counted. OTEL_BSP_MAX_QUEUE_SIZE, default 100000. */
  maxQueueSpans: number;
  /** Spans per export request at most (a single larger record is sent alone). OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 8192. */
  maxBatchSpans: number;
  /** Longest wait before a partial batch is sent, ms. OTEL_BSP_SCHEDULE_DELAY, default 200. */
  scheduleDelayMs: number;
  /** Export requests in flight at once. Default 2. */
  maxConcurrentExports: number;
  /** ScopeSpans bytes held at most; more are dropped and counted. SPANBRIDGE_MAX_QUEUE_BYTES, default 32 MiB. */
  maxQueueBytes: number;
  /** ScopeSpans bytes per export request at most (a single larger record is sent alone). SPANBRIDGE_MAX_EXPORT_BATCH_BYTES, default 4 MiB. */
  maxBatchBytes: number;
  /** Bytes of merged resources remembered at most. SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES, default 8 MiB. */
  maxResourceCacheBytes: number;
}

/** The validated export configuration. */
export interface ExportConfig {
  /** The exporter to use; "none" when OTEL_SDK_DISABLED=true. */
  exporter: ExporterKind;
  /** OTLP encoding (OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL), default http/protobuf. */
  protocol: OtlpHttpProtocol;
  /** Queue sizes and timing. */
  batch: BatchOptions;
  /** OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. */
  resource: ResourceEnv;
}

/** The queue defaults: OTel's batch processor shape, sized for ~200k spans/s. */
export const defaultBatchOptions: BatchOptions = {
  maxQueueSpans: 100_000,
  maxBatchSpans: 8192,
  scheduleDelayMs: 200,
  maxConcurrentExports: 2,
  // With the 32 MiB ring and the runtime, these keep the controller's peak
  // RSS within a 150 MiB container limit during a collector outage.
  maxQueueBytes: 32 << 20,
  maxBatchBytes: 4 << 20,
  maxResourceCacheBytes: 8 << 20,
};

type Env = Record<string, string | undefined>;

/** Reads and validates the export configuration from `env`; throws an Error naming the bad variable. */
export function readExportConfig(env: Env): ExportConfig {
  const get = (name: string) => env[name]?.trim() || undefined;
  const disabled = get("OTEL_SDK_DISABLED")?.toLowerCase() === "true";
  const exporter = disabled
    ? "none"
    : readExporterKind(get("OTEL_TRACES_EXPORTER"));
  const protocol = readProtocol(get);
  for (const suffix of ["", "TRACES_"]) {
    const name = `OTEL_EXPORTER_OTLP_${suffix}ENDPOINT`;
    const url = get(name);
    if (
      url !== undefined && !/^https?:$/.test(URL.parse(url)?.protocol ?? "")
    ) {
      throw new Error(
        `Invalid ${name}: "${url}" is not an http:// or https:// URL`,
      );
    }
    const headers = `OTEL_EXPORTER_OTLP_${suffix}HEADERS`;
    if (get(headers) !== undefined) checkHeaders(headers, get(headers)!);
    const timeout = `OTEL_EXPORTER_OTLP_${suffix}TIMEOUT`;
    if (get(timeout) !== undefined) positiveInteger(get, timeout, 1);
    const compression = `OTEL_EXPORTER_OTLP_${suffix}COMPRESSION`;
    const algo = get(compression);
    if (algo !== undefined && algo !== "gzip" && algo !== "none") {
      throw new Error(
        `Invalid ${compression}: "${algo}" is not one of gzip, none`,
      );
    }
  }
  const batch: BatchOptions = {
    maxQueueSpans: positiveInteger(
      get,
      "OTEL_BSP_MAX_QUEUE_SIZE",
      defaultBatchOptions.maxQueueSpans,
    ),
    maxBatchSpans: positiveInteger(
      get,
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      defaultBatchOptions.maxBatchSpans,
    ),
    scheduleDelayMs: positiveInteger(
      get,
      "OTEL_BSP_SCHEDULE_DELAY",
      defaultBatchOptions.scheduleDelayMs,
    ),
    maxConcurrentExports: defaultBatchOptions.maxConcurrentExports,
    maxQueueBytes: byteSize(
      get,
      "SPANBRIDGE_MAX_QUEUE_BYTES",
      defaultBatchOptions.maxQueueBytes,
    ),
    maxBatchBytes: byteSize(
      get,
      "SPANBRIDGE_MAX_EXPORT_BATCH_BYTES",
      defaultBatchOptions.maxBatchBytes,
    ),
    maxResourceCacheBytes: byteSize(
      get,
      "SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES",
      defaultBatchOptions.maxResourceCacheBytes,
    ),
  };
  if (batch.maxBatchSpans > batch.maxQueueSpans) {
    throw new Error(
      `Invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE: ${batch.maxBatchSpans} exceeds OTEL_BSP_MAX_QUEUE_SIZE (${batch.maxQueueSpans})`,
    );
  }
  return { exporter, protocol, batch, resource: readResourceEnv(env) };
}

/**
 * Checks an OTLP headers list ("key=value,key2=value2", values
 * percent-encoded). The OpenTelemetry transport skips a malformed entry
 * without a word, so requests would go out without, say, their
 * authorization: refuse it here instead.
 */
function checkHeaders(name: string, value: string): void {
  for (const entry of value.split(",")) {
    if (entry.trim() === "") continue;
    const eq = entry.indexOf("=");
    const key = eq < 0 ? "" : entry.slice(0, eq).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      throw new Error(
        `Invalid ${name}: "${entry.trim()}" is not key=value with a valid header name`,
      );
    }
    try {
      decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      throw new Error(
        `Invalid ${name}: the value of "${key}" is not valid percent-encoding`,
      );
    }
  }
}

function readExporterKind(value: string | undefined): ExporterKind {
  const kinds = [
    ...new Set(
      (value ?? "otlp").split(",").map((s) => s.trim()).filter((s) => s),
    ),
  ];
  if (kinds.length !== 1) {
    throw new Error(
      `Invalid OTEL_TRACES_EXPORTER: "${value}" names ${kinds.length} exporters; spanbridge supports exactly one`,
    );
  }
  const kind = kinds[0];
  if (kind !== "otlp" && kind !== "console" && kind !== "none") {
    throw new Error(
      `Invalid OTEL_TRACES_EXPORTER: "${kind}" is not one of otlp, console, none`,
    );
  }
  return kind;
}

function readProtocol(
  get: (name: string) => string | undefined,
): OtlpHttpProtocol {
  const name = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") !== undefined
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const value = get(name) ?? "http/protobuf";
  if (value === "http/protobuf" || value === "http/json") return value;
  if (value === "grpc") {
    throw new Error(
      `Invalid ${name}: OTLP over grpc is not supported; use http/protobuf or http/json`,
    );
  }
  throw new Error(
    `Invalid ${name}: "${value}" is not one of http/protobuf, http/json`,
  );
}

function positiveInteger(
  get: (name: string) => string | undefined,
  name: string,
  fallback: number,
): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`Invalid ${name}: "${raw}" is not a positive integer`);
  }
  return n;
}

/** A positive byte count, optionally with a K, M or G (binary) suffix. */
function byteSize(
  get: (name: string) => string | undefined,
  name: string,
  fallback: number,
): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  const match = /^([1-9][0-9]*)([KMG]?)$/i.exec(raw);
  const n = match
    ? Number(match[1]) * 1024 ** "_KMG".indexOf(match[2].toUpperCase() || "_")
    : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new Error(
      `Invalid ${name}: "${raw}" is not a positive number of bytes (e.g. 33554432 or 32M)`,
    );
  }
  return n;
}
