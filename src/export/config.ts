/**
 * The OTEL_* variables that choose and shape span and log export, validated up front
 * so a typo stops the controller with a clear message instead of silently
 * falling back to a default (which OpenTelemetry JS would do with a warning
 * nobody sees). Everything is read here, once; the OTLP transport settings
 * (endpoint, protocol, headers, timeout, compression, certificates) by
 * otlp_transport.ts, and passed to the exporter explicitly, so nothing else
 * reads the environment.
 *
 * @module
 */

import {
  type Env,
  type EnvReader,
  envReader,
  maxMillis,
  positiveInteger,
} from "./_env.ts";
import {
  type OtlpTransportConfig,
  otlpTransportConfig,
  readOtlpTransport,
} from "./otlp_transport.ts";
import { readResourceEnv, type ResourceEnv } from "./resource.ts";

/** Where spans (log records) go (OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER). */
export type ExporterKind = "otlp" | "console" | "none";

/**
 * Sizes and timing of the export queue (OTEL_BSP_* variables; for the log
 * queue OTEL_BLRP_*, its "spans" being log records). The byte bounds
 * (SPANBRIDGE_*) apply to each signal's queue on its own.
 */
export interface BatchOptions {
  /** Spans held at most; more are dropped and counted. OTEL_BSP_MAX_QUEUE_SIZE, default 100000. */
  maxQueueSpans: number;
  /** Spans per export request at most (a single larger record is sent alone). OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 8192. */
  maxBatchSpans: number;
  /** Longest wait before a partial batch is sent, ms. OTEL_BSP_SCHEDULE_DELAY, default 200. */
  scheduleDelayMs: number;
  /** Export requests in flight at once. Default 2. */
  maxConcurrentExports: number;
  /** Bytes of spans and their resources held at most; more are dropped and counted. SPANBRIDGE_MAX_QUEUE_BYTES, default 32 MiB. */
  maxQueueBytes: number;
  /** Encoded bytes (spans and resources) per export request at most (a single larger record is sent alone). SPANBRIDGE_MAX_EXPORT_BATCH_BYTES, default 4 MiB. */
  maxBatchBytes: number;
  /**
   * Encoded bytes of one export request at most, however it is made up: a
   * record that is larger alone is dropped ("too_large"). Below the
   * Collector's default limit of 20 MiB, which refuses the whole request
   * (413). SPANBRIDGE_MAX_REQUEST_BODY_BYTES, default 16 MiB (4 MiB over
   * gRPC: {@linkcode grpcMaxRequestBodyBytes}).
   */
  maxRequestBodyBytes: number;
  /** Bytes of merged resources remembered at most. SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES, default 8 MiB. */
  maxResourceCacheBytes: number;
}

/** The validated export configuration of one signal. */
export interface SignalExportConfig {
  /** The exporter to use (OTEL_<SIGNAL>_EXPORTER); "none" when OTEL_SDK_DISABLED=true. */
  exporter: ExporterKind;
  /** Where and how OTLP requests go (OTEL_EXPORTER_OTLP_(<SIGNAL>_)* variables). */
  otlp: OtlpTransportConfig;
  /** Queue sizes and timing. */
  batch: BatchOptions;
}

/** The validated export configuration: spans' at the top, logs' in `logs`. */
export interface ExportConfig extends SignalExportConfig {
  /** Log export: OTEL_LOGS_EXPORTER, OTEL_EXPORTER_OTLP_LOGS_*, OTEL_BLRP_*. */
  logs: SignalExportConfig;
  /** OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. */
  resource: ResourceEnv;
}

/** The queue defaults: OTel's batch processor shape, sized for ~200k spans/s. */
export const defaultBatchOptions: BatchOptions = {
  maxQueueSpans: 100_000,
  maxBatchSpans: 8192,
  scheduleDelayMs: 200,
  maxConcurrentExports: 2,
  // Not lowered for the memory goal: at 200k spans/s the controller's peak
  // is ArrayBuffers the decode and export path keeps reachable for seconds,
  // not the queue (BENCHMARKS.md section 7).
  maxQueueBytes: 32 << 20,
  maxBatchBytes: 4 << 20,
  maxRequestBodyBytes: 16 << 20,
  maxResourceCacheBytes: 8 << 20,
};

/**
 * The default request body limit over gRPC: the message limit of gRPC
 * servers unless raised (grpc-go's 4 MiB, the Collector's
 * max_recv_msg_size_mib), which refuses a larger request whole
 * (RESOURCE_EXHAUSTED).
 */
export const grpcMaxRequestBodyBytes = 4 << 20;

/**
 * The largest sizes accepted, far above any sane setting (100 times the
 * defaults and more) yet below what would overflow or could never be
 * allocated: a typo such as 8000000G is refused instead of lifting the bound.
 */
export const maxBatchOptions = {
  /** OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 10 million spans. */
  spans: 10_000_000,
  /** OTEL_BSP_SCHEDULE_DELAY: an hour, as the export timeout. */
  delayMs: maxMillis,
  /** SPANBRIDGE_MAX_QUEUE_BYTES: 4 GiB. */
  queueBytes: 4 * 1024 ** 3,
  /** SPANBRIDGE_MAX_EXPORT_BATCH_BYTES and SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES: 1 GiB. */
  bytes: 1024 ** 3,
  /**
   * SPANBRIDGE_MAX_REQUEST_BODY_BYTES: 256 MiB, past any receiver's sane
   * limit; a request is built in memory whole, twice (records and body).
   */
  requestBodyBytes: 256 << 20,
};

/**
 * Reads and validates the export configuration from `env`; throws an Error
 * naming the bad variable. Certificate files are read here too.
 */
export function readExportConfig(env: Env): ExportConfig {
  const get = envReader(env);
  const disabled = readBoolean(get, "OTEL_SDK_DISABLED");
  return {
    ...readSignal(env, "traces", disabled),
    logs: readSignal(env, "logs", disabled),
    resource: readResourceEnv(env),
  };
}

/** The batch processor variables' prefix of each signal. */
const batchPrefixes = { traces: "OTEL_BSP", logs: "OTEL_BLRP" } as const;

function readSignal(
  env: Env,
  signal: "traces" | "logs",
  disabled: boolean,
): SignalExportConfig {
  const get = envReader(env);
  const exporterVariable = `OTEL_${signal.toUpperCase()}_EXPORTER`;
  const exporter = disabled
    ? "none"
    : readExporterKind(exporterVariable, get(exporterVariable));
  const prefix = batchPrefixes[signal];
  if (get(`${prefix}_EXPORT_TIMEOUT`) !== undefined) {
    throw new Error(
      `Unsupported ${prefix}_EXPORT_TIMEOUT: spanbridge limits each export with OTEL_EXPORTER_OTLP_TIMEOUT, so set OTEL_EXPORTER_OTLP_TIMEOUT instead`,
    );
  }
  // Log export's transport is read only when it is used: a traces-only
  // setting (a client key for traces alone beside a general client
  // certificate, say) must not stop an agent whose logs go nowhere.
  const otlp = signal === "logs" && exporter !== "otlp"
    ? otlpTransportConfig(signal)
    : readOtlpTransport(env, signal);
  const batch: BatchOptions = {
    maxQueueSpans: positiveInteger(
      get,
      `${prefix}_MAX_QUEUE_SIZE`,
      defaultBatchOptions.maxQueueSpans,
      maxBatchOptions.spans,
    ),
    maxBatchSpans: positiveInteger(
      get,
      `${prefix}_MAX_EXPORT_BATCH_SIZE`,
      defaultBatchOptions.maxBatchSpans,
      maxBatchOptions.spans,
    ),
    scheduleDelayMs: positiveInteger(
      get,
      `${prefix}_SCHEDULE_DELAY`,
      defaultBatchOptions.scheduleDelayMs,
      maxBatchOptions.delayMs,
    ),
    maxConcurrentExports: defaultBatchOptions.maxConcurrentExports,
    maxQueueBytes: byteSize(
      get,
      "SPANBRIDGE_MAX_QUEUE_BYTES",
      defaultBatchOptions.maxQueueBytes,
      maxBatchOptions.queueBytes,
    ),
    maxBatchBytes: byteSize(
      get,
      "SPANBRIDGE_MAX_EXPORT_BATCH_BYTES",
      defaultBatchOptions.maxBatchBytes,
      maxBatchOptions.bytes,
    ),
    maxRequestBodyBytes: byteSize(
      get,
      "SPANBRIDGE_MAX_REQUEST_BODY_BYTES",
      otlp.protocol === "grpc"
        ? grpcMaxRequestBodyBytes
        : defaultBatchOptions.maxRequestBodyBytes,
      maxBatchOptions.requestBodyBytes,
    ),
    maxResourceCacheBytes: byteSize(
      get,
      "SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES",
      defaultBatchOptions.maxResourceCacheBytes,
      maxBatchOptions.bytes,
    ),
  };
  if (batch.maxBatchBytes > batch.maxRequestBodyBytes) {
    throw new Error(
      `Invalid SPANBRIDGE_MAX_EXPORT_BATCH_BYTES: ${batch.maxBatchBytes} exceeds SPANBRIDGE_MAX_REQUEST_BODY_BYTES (${batch.maxRequestBodyBytes}), the most one request may hold`,
    );
  }
  if (batch.maxBatchSpans > batch.maxQueueSpans) {
    throw new Error(
      `Invalid ${prefix}_MAX_EXPORT_BATCH_SIZE: ${batch.maxBatchSpans} exceeds ${prefix}_MAX_QUEUE_SIZE (${batch.maxQueueSpans})`,
    );
  }
  return { exporter, otlp, batch };
}

function readExporterKind(
  name: string,
  value: string | undefined,
): ExporterKind {
  const kinds = [
    ...new Set(
      (value ?? "otlp").split(",").map((s) => s.trim()).filter((s) => s),
    ),
  ];
  if (kinds.length !== 1) {
    throw new Error(
      `Invalid ${name}: "${value}" names ${kinds.length} exporters; spanbridge supports exactly one`,
    );
  }
  const kind = kinds[0];
  if (kind !== "otlp" && kind !== "console" && kind !== "none") {
    throw new Error(
      `Invalid ${name}: "${kind}" is not one of otlp, console, none`,
    );
  }
  return kind;
}

/**
 * A boolean variable: true or false, any case; unset is false. Anything else
 * is refused rather than read as false (OTEL_SDK_DISABLED=yes would
 * otherwise export).
 */
function readBoolean(
  get: EnvReader,
  name: string,
): boolean {
  const raw = get(name);
  if (raw === undefined) return false;
  const value = raw.toLowerCase();
  if (value !== "true" && value !== "false") {
    throw new Error(`Invalid ${name}: "${raw}" is not true or false`);
  }
  return value === "true";
}

/** A positive byte count, optionally with a K, M or G (binary) suffix, at most `max`. */
function byteSize(
  get: EnvReader,
  name: string,
  fallback: number,
  max: number,
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
  if (n > max) {
    throw new Error(
      `Invalid ${name}: ${raw} exceeds the maximum of ${max / 1024 ** 2}M`,
    );
  }
  return n;
}
