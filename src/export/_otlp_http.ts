/**
 * OTLP over HTTP (http/protobuf and http/json): OpenTelemetry JS's own
 * transport (retries with backoff and Retry-After, timeouts, compression,
 * TLS, a bound on requests in flight), given a validated
 * {@linkcode OtlpTransportConfig} and nothing else, so OpenTelemetry JS never
 * reads the OTEL_* environment itself.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  CompressionAlgorithm,
  type IOtlpExportDelegate,
} from "@opentelemetry/otlp-exporter-base";
import {
  createOtlpHttpExportDelegate,
  httpAgentFactoryFromOptions,
} from "@opentelemetry/otlp-exporter-base/node-http";
import type {
  IExporterMetricsHelper,
  ISerializer,
} from "@opentelemetry/otlp-transformer";
import type { OtlpTransportConfig } from "./_otlp_config.ts";

const compressions = {
  gzip: CompressionAlgorithm.GZIP,
  none: CompressionAlgorithm.NONE,
};

/**
 * An export delegate that sends `serializer`'s bodies as `config` says, at
 * most `concurrencyLimit` at once.
 */
export function httpExportDelegate<Request, Response>(
  config: OtlpTransportConfig,
  serializer: ISerializer<Request, Response>,
  items: IExporterMetricsHelper<Request>,
  concurrencyLimit: number,
): IOtlpExportDelegate<Request> {
  const headers = {
    ...config.headers,
    "Content-Type": config.protocol === "http/json"
      ? "application/json"
      : "application/x-protobuf",
  };
  return createOtlpHttpExportDelegate(
    {
      url: config.url,
      headers: () => Promise.resolve({ ...headers }),
      timeoutMillis: config.timeoutMillis,
      compression: compressions[config.compression],
      concurrencyLimit,
      // Node's https agent (Deno implements it) takes the PEM bytes as they are.
      agentFactory: httpAgentFactoryFromOptions({
        keepAlive: true,
        ...(config.ca && { ca: Buffer.from(config.ca) }),
        ...(config.cert && { cert: Buffer.from(config.cert) }),
        ...(config.key && { key: Buffer.from(config.key) }),
      }),
      userAgent: undefined,
    },
    serializer,
    `otlp_http_${items.name}_exporter`,
    items,
    undefined,
  );
}

/** Network errors the OpenTelemetry transport retries, and so do we. */
const retryableNetworkCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

/**
 * Whether a failure the HTTP delegate reports may succeed later. The
 * delegate does not say so itself; these are the outcomes its transport
 * treats as retryable (a retryable HTTP status after its last attempt, a
 * network error, a request timeout) plus its own concurrency refusal.
 */
export function httpRetryable(error: Error | undefined): boolean {
  if (!error) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") return retryableNetworkCodes.has(code);
  if (typeof code === "number") return [429, 502, 503, 504].includes(code);
  return [
    "Export failed with retryable status",
    "Request timed out",
    "Concurrent export limit reached",
  ].includes(error.message);
}

/**
 * The HTTP status or network code of a failure, as " (HTTP 400)" or
 * " (ECONNREFUSED)", and what to do about it where we know.
 */
export function httpFailureDetail(error: Error | undefined): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const status = typeof code === "number"
    ? ` (HTTP ${code})`
    : typeof code === "string"
    ? ` (${code})`
    : "";
  // Not retried: the same body would be refused again. Only this request's
  // items are lost; the requests are already split below our own limit.
  const hint = code === 413
    ? ": the receiver's request body limit is lower than SPANBRIDGE_MAX_REQUEST_BODY_BYTES; lower it below the receiver's limit"
    : "";
  return status + hint;
}
