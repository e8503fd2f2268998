/**
 * The OTEL_* variables that choose and shape span export, validated up front
 * so a typo stops the controller with a clear message instead of silently
 * falling back to a default (which OpenTelemetry JS would do with a warning
 * nobody sees). Everything is read here, once: the OTLP transport settings
 * (endpoint, headers, timeout, compression, certificates) are passed to the
 * exporter explicitly, so nothing else reads the environment.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import type { OtlpHttpProtocol } from "./otlp_exporter.ts";
import { redactUrl } from "../redact.ts";
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
  /** Bytes of spans and their resources held at most; more are dropped and counted. SPANBRIDGE_MAX_QUEUE_BYTES, default 32 MiB. */
  maxQueueBytes: number;
  /** Encoded bytes (spans and resources) per export request at most (a single larger record is sent alone). SPANBRIDGE_MAX_EXPORT_BATCH_BYTES, default 4 MiB. */
  maxBatchBytes: number;
  /**
   * Encoded bytes of one export request at most, however it is made up: a
   * record that is larger alone is dropped ("too_large"). Below the
   * Collector's default limit of 20 MiB, which refuses the whole request
   * (413). SPANBRIDGE_MAX_REQUEST_BODY_BYTES, default 16 MiB.
   */
  maxRequestBodyBytes: number;
  /** Bytes of merged resources remembered at most. SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES, default 8 MiB. */
  maxResourceCacheBytes: number;
}

/** What an OTLP exporter sends: the agent's spans, or its own metrics. */
export type OtlpSignal = "traces" | "metrics";

/** Where and how OTLP/HTTP requests go (OTEL_EXPORTER_OTLP_(<SIGNAL>_)* variables). */
export interface OtlpTransportConfig {
  /** Full URL of the signal's endpoint. Default http://localhost:4318/v1/<signal>. */
  url: string;
  /** Extra request headers, values percent-decoded. */
  headers: Record<string, string>;
  /** Time for one export including its retries, ms. Default 10000. */
  timeoutMillis: number;
  /** Request body compression. Default none. */
  compression: "gzip" | "none";
  /** PEM bytes of the CA certificates to trust for https (OTEL_EXPORTER_OTLP_CERTIFICATE). */
  ca?: Uint8Array;
  /** PEM bytes of the client certificate chain for mutual TLS (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE). */
  cert?: Uint8Array;
  /** PEM bytes of the client private key for mutual TLS (OTEL_EXPORTER_OTLP_CLIENT_KEY). */
  key?: Uint8Array;
}

/** The validated export configuration. */
export interface ExportConfig {
  /** The exporter to use; "none" when OTEL_SDK_DISABLED=true. */
  exporter: ExporterKind;
  /** OTLP encoding (OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL), default http/protobuf. */
  protocol: OtlpHttpProtocol;
  /** Where and how OTLP requests go. */
  otlp: OtlpTransportConfig;
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
  // Not lowered for the memory goal: at 200k spans/s the controller's peak
  // is ArrayBuffers the decode and export path keeps reachable for seconds,
  // not the queue (BENCHMARKS.md section 7).
  maxQueueBytes: 32 << 20,
  maxBatchBytes: 4 << 20,
  maxRequestBodyBytes: 16 << 20,
  maxResourceCacheBytes: 8 << 20,
};

type Env = Record<string, string | undefined>;

/** The longest export timeout accepted: an hour (timers overflow past ~24.8 days). */
const maxTimeoutMillis = 3_600_000;

/**
 * The largest sizes accepted, far above any sane setting (100 times the
 * defaults and more) yet below what would overflow or could never be
 * allocated: a typo such as 8000000G is refused instead of lifting the bound.
 */
export const maxBatchOptions = {
  /** OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 10 million spans. */
  spans: 10_000_000,
  /** OTEL_BSP_SCHEDULE_DELAY: an hour, as the export timeout. */
  delayMs: maxTimeoutMillis,
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
  const get = (name: string) => env[name]?.trim() || undefined;
  const disabled = readBoolean(get, "OTEL_SDK_DISABLED");
  const exporter = disabled
    ? "none"
    : readExporterKind(get("OTEL_TRACES_EXPORTER"));
  const protocol = readProtocol(get);
  if (get("OTEL_BSP_EXPORT_TIMEOUT") !== undefined) {
    throw new Error(
      "Unsupported OTEL_BSP_EXPORT_TIMEOUT: spanbridge limits each export with OTEL_EXPORTER_OTLP_TIMEOUT, so set OTEL_EXPORTER_OTLP_TIMEOUT instead",
    );
  }
  const batch: BatchOptions = {
    maxQueueSpans: positiveInteger(
      get,
      "OTEL_BSP_MAX_QUEUE_SIZE",
      defaultBatchOptions.maxQueueSpans,
      maxBatchOptions.spans,
    ),
    maxBatchSpans: positiveInteger(
      get,
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      defaultBatchOptions.maxBatchSpans,
      maxBatchOptions.spans,
    ),
    scheduleDelayMs: positiveInteger(
      get,
      "OTEL_BSP_SCHEDULE_DELAY",
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
      defaultBatchOptions.maxRequestBodyBytes,
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
      `Invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE: ${batch.maxBatchSpans} exceeds OTEL_BSP_MAX_QUEUE_SIZE (${batch.maxQueueSpans})`,
    );
  }
  return {
    exporter,
    protocol,
    otlp: readTransport(get, "traces"),
    batch,
    resource: readResourceEnv(env),
  };
}

/**
 * Reads and validates the OTLP transport settings of one signal from `env`
 * (an OTEL_EXPORTER_OTLP_<SIGNAL>_* variable wins over the general one);
 * throws an Error naming the bad variable. Certificate files are read here.
 */
export function readOtlpTransport(
  env: Env,
  signal: OtlpSignal,
): OtlpTransportConfig {
  return readTransport((name) => env[name]?.trim() || undefined, signal);
}

function readTransport(
  get: (name: string) => string | undefined,
  signal: OtlpSignal,
): OtlpTransportConfig {
  const SIGNAL = signal.toUpperCase();
  const pick = (setting: string) => {
    const specific = `OTEL_EXPORTER_OTLP_${SIGNAL}_${setting}`;
    const name = get(specific) !== undefined
      ? specific
      : `OTEL_EXPORTER_OTLP_${setting}`;
    return { name, value: get(name) };
  };
  for (const suffix of ["", `${SIGNAL}_`]) {
    const name = `OTEL_EXPORTER_OTLP_${suffix}ENDPOINT`;
    const url = get(name);
    if (
      url !== undefined && !/^https?:$/.test(URL.parse(url)?.protocol ?? "")
    ) {
      throw new Error(
        `Invalid ${name}: "${
          redactUrl(url)
        }" is not an http:// or https:// URL`,
      );
    }
  }
  const specificUrl = get(`OTEL_EXPORTER_OTLP_${SIGNAL}_ENDPOINT`);
  const baseUrl = get("OTEL_EXPORTER_OTLP_ENDPOINT") ?? "http://localhost:4318";
  const url = specificUrl !== undefined
    ? new URL(specificUrl).href
    : new URL(baseUrl.replace(/\/*$/, "/") + `v1/${signal}`).href;

  // General headers first, then the signal's over them, as the spec says.
  const headers: Record<string, string> = {};
  for (
    const name of [
      "OTEL_EXPORTER_OTLP_HEADERS",
      `OTEL_EXPORTER_OTLP_${SIGNAL}_HEADERS`,
    ]
  ) {
    const value = get(name);
    if (value !== undefined) Object.assign(headers, parseHeaders(name, value));
  }
  const timeout = pick("TIMEOUT");
  const timeoutMillis = positiveInteger(
    get,
    timeout.name,
    10_000,
    maxTimeoutMillis,
  );
  const compression = pick("COMPRESSION");
  if (
    compression.value !== undefined && compression.value !== "gzip" &&
    compression.value !== "none"
  ) {
    throw new Error(
      `Invalid ${compression.name}: "${compression.value}" is not one of gzip, none`,
    );
  }
  const file = (setting: string, holds: PemContent) => {
    const { name, value } = pick(setting);
    if (value === undefined) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(value);
    } catch (err) {
      throw new Error(
        `Invalid ${name}: cannot read "${value}": ${(err as Error).message}`,
        { cause: err },
      );
    }
    const problem = pemProblem(bytes, holds);
    if (problem) throw new Error(`Invalid ${name}: "${value}" ${problem}`);
    return bytes;
  };
  const clientCert = pick("CLIENT_CERTIFICATE");
  const clientKey = pick("CLIENT_KEY");
  if ((clientCert.value === undefined) !== (clientKey.value === undefined)) {
    throw new Error(
      `Invalid ${clientCert.name} / ${clientKey.name}: mutual TLS needs both, only one is set`,
    );
  }
  const tls = {
    ca: file("CERTIFICATE", "certificates"),
    cert: file("CLIENT_CERTIFICATE", "certificates"),
    key: file("CLIENT_KEY", "key"),
  };
  return {
    url,
    headers,
    timeoutMillis,
    compression: compression.value === "gzip" ? "gzip" : "none",
    ...Object.fromEntries(
      Object.entries(tls).filter(([, v]) => v !== undefined),
    ),
  };
}

/** What a PEM file must hold. */
type PemContent = "certificates" | "key";

/**
 * Why `bytes` are not the PEM `holds` asks for, or undefined when they are.
 * Checked at start: Node's TLS would otherwise fail only at the first export,
 * long after the agent said it was running.
 */
function pemProblem(bytes: Uint8Array, holds: PemContent): string | undefined {
  const text = new TextDecoder().decode(bytes);
  if (holds === "key") {
    try {
      createPrivateKey(text);
      return undefined;
    } catch (err) {
      return `is not a PEM private key (${(err as Error).message})`;
    }
  }
  const blocks = text.match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  );
  if (!blocks) return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `has a certificate that does not parse (number ${i + 1}: ${
        (err as Error).message
      })`;
    }
  }
  return undefined;
}

/**
 * Parses an OTLP headers list ("key=value,key2=value2", values
 * percent-encoded). The OpenTelemetry transport skips a malformed entry
 * without a word, so requests would go out without, say, their
 * authorization, and Node's HTTP client refuses control characters in a
 * value at every export: refuse both here instead.
 */
function parseHeaders(name: string, value: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const entry of value.split(",")) {
    if (entry.trim() === "") continue;
    const eq = entry.indexOf("=");
    const key = eq < 0 ? "" : entry.slice(0, eq).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      // Only the entry's start: the rest may be a secret (a value after a
      // colon typed for "=", say).
      const start = entry.trim().match(/^[^=:\s]*/)![0].slice(0, 40);
      throw new Error(
        `Invalid ${name}: the entry starting "${start}" is not key=value with a valid header name`,
      );
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      throw new Error(
        `Invalid ${name}: the value of "${key}" is not valid percent-encoding`,
      );
    }
    // RFC 9110 field-value characters: no CR, LF, NUL or other controls.
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(decoded)) {
      throw new Error(
        `Invalid ${name}: the value of "${key}" holds a control character (CR, LF or another)`,
      );
    }
    headers[key] = decoded;
  }
  return headers;
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
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  // Digits only: Number() would also take "1e3", "0x10" and "1e20".
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!(n > 0)) {
    throw new Error(`Invalid ${name}: "${raw}" is not a positive integer`);
  }
  if (n > max) {
    throw new Error(`Invalid ${name}: ${raw} exceeds the maximum of ${max}`);
  }
  return n;
}

/**
 * A boolean variable: true or false, any case; unset is false. Anything else
 * is refused rather than read as false (OTEL_SDK_DISABLED=yes would
 * otherwise export).
 */
function readBoolean(
  get: (name: string) => string | undefined,
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
  get: (name: string) => string | undefined,
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
