/**
 * OTLP/HTTP export of our span batches through the OpenTelemetry JS exporter
 * stack.
 *
 * Why not `OTLPTraceExporter` from @opentelemetry/exporter-trace-otlp-http:
 * it takes ReadableSpan objects and rebuilds OTLP from them, which cannot
 * carry what the Go SDK sent exactly (a double 3.0 becomes an int, int64
 * values above 2^53 lose precision, bytes and key/value-list attributes do
 * not exist there). That exporter is only `createOtlpHttpExportDelegate`
 * with a ReadableSpan serializer. We build the same delegate with a
 * serializer of our batches (protobuf: the validated ScopeSpans bytes the SDK
 * sent, copied behind the merged resources, see SpanBatch.toBinary; OTLP/JSON:
 * a full decode and otlp_json.ts, several times slower), so the spans leave
 * exact while OpenTelemetry JS still does the transport: retries with
 * backoff and Retry-After, timeouts, compression, TLS and concurrency
 * limits. Its settings come from the validated configuration (config.ts),
 * passed in whole: the delegate is built without OpenTelemetry JS's own
 * reading of the OTEL_* environment.
 *
 * @module
 */

import { fromBinary, fromJson } from "@bufbuild/protobuf";
import { ExportResultCode } from "@opentelemetry/core";
import type {
  IExporterMetricsHelper,
  ISerializer,
} from "@opentelemetry/otlp-transformer";
import { createOtlpHttpExportDelegate } from "@opentelemetry/otlp-exporter-base/node-http";
import {
  type ExportTraceServiceResponse,
  ExportTraceServiceResponseSchema,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { ExportLogsServiceResponseSchema } from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import { BufferPool, type Signal, type SpanBatch } from "../otlp/mod.ts";
import type { OtlpTransportConfig } from "./config.ts";
import type { ExportOutcome, SpanExporter } from "./exporter.ts";
import { otlpHttpSettings } from "./otlp_http.ts";
import { toOtlpJson } from "../otlp/mod.ts";
import { Redactor, redactUrl } from "../redact.ts";

/** The OTLP/HTTP encodings we send. */
export type OtlpHttpProtocol = "http/protobuf" | "http/json";

/**
 * Options of {@linkcode createOtlpExporter}: the transport settings (unset
 * ones take the OTLP defaults: http://localhost:4318/v1/traces, no extra
 * headers, 10 s, no compression; never the environment) and how to use them.
 */
export interface OtlpExporterOptions extends Partial<OtlpTransportConfig> {
  /** Encoding of the request body. Default "http/protobuf". */
  protocol?: OtlpHttpProtocol;
  /** Exports allowed in flight at once; the queue keeps below it. Default 30. */
  concurrencyLimit?: number;
  /** What the batches hold: "traces" (default, /v1/traces) or "logs" (/v1/logs). */
  signal?: Signal;
}

const metricsHelpers: Record<Signal, IExporterMetricsHelper<SpanBatch>> = {
  traces: { name: "span", countItems: (b) => b.spans },
  logs: { name: "log", countItems: (b) => b.spans },
};
/**
 * Bytes of request bodies kept for reuse: the default export concurrency
 * (2) of the largest default request (4 MiB), with room for its framing.
 */
const bodyPoolBytes = 12 << 20;
const contentTypes: Record<OtlpHttpProtocol, string> = {
  "http/protobuf": "application/x-protobuf",
  "http/json": "application/json",
};

/** Creates an exporter that sends requests to an OTLP/HTTP receiver. */
export function createOtlpExporter(
  options: OtlpExporterOptions = {},
): SpanExporter {
  const protocol = options.protocol ?? "http/protobuf";
  const signal = options.signal ?? "traces";
  // The delegate reads the response (our deserializeResponse) and then calls
  // the export's callback in the same synchronous step, so the partial success
  // parked here is always the one of the export whose callback runs next.
  let parked: ExportTraceServiceResponse | undefined;
  // Request bodies are written into pooled buffers, each taken back when its
  // export's callback ran: the transport (and its retries) is done with it.
  // The delegate serializes within export(), so `body` is always the
  // current export's.
  const bodies = new BufferPool(bodyPoolBytes);
  let body: Uint8Array<ArrayBuffer> | undefined;
  const serializer: ISerializer<SpanBatch, ExportTraceServiceResponse> = {
    serializeRequest: (batch) =>
      protocol === "http/json"
        ? new TextEncoder().encode(JSON.stringify(toOtlpJson(batch)))
        : batch.toBinary((size) => body = bodies.acquire(size)),
    deserializeResponse: (data) => {
      parked = decodeResponse(protocol, signal, data);
      return parked;
    },
  };
  const config = otlpHttpSettings(
    {
      url: options.url ?? `http://localhost:4318/v1/${signal}`,
      headers: options.headers ?? {},
      timeoutMillis: options.timeoutMillis ?? 10_000,
      compression: options.compression ?? "none",
      ca: options.ca,
      cert: options.cert,
      key: options.key,
    },
    contentTypes[protocol],
    options.concurrencyLimit ?? 30,
  );
  const secrets = new Redactor([{
    url: config.url,
    headers: options.headers ?? {},
  }]);
  const delegate = createOtlpHttpExportDelegate(
    config,
    serializer,
    `otlp_http_${metricsHelpers[signal].name}_exporter`,
    metricsHelpers[signal],
    undefined,
  );
  return {
    export(request) {
      return new Promise<ExportOutcome>((resolve) => {
        body = undefined;
        let sent: Uint8Array<ArrayBuffer> | undefined;
        let answered = false;
        delegate.export(request, (result) => {
          answered = true;
          if (sent) bodies.release(sent);
          const response = parked;
          parked = undefined;
          if (result.code !== ExportResultCode.SUCCESS) {
            resolve({
              ok: false,
              error: describe(result.error, config.url, secrets, signal),
              retryable: isRetryable(result.error),
            });
            return;
          }
          const partial = response?.partialSuccess;
          resolve({
            ok: true,
            rejected: Number(partial?.rejectedSpans ?? 0n),
            message: partial?.errorMessage || undefined,
          });
        });
        // Answered at once (the delegate refused it) before this line ran.
        if (!answered && body) sent = body;
        else if (body) bodies.release(body);
        body = undefined;
      });
    },
    shutdown: () => delegate.shutdown(),
  };
}

/**
 * The response's partial success, as a trace response: a logs response has
 * the same fields and numbers (rejected_log_records is field 1, as
 * rejected_spans), only its JSON names differ.
 */
function decodeResponse(
  protocol: OtlpHttpProtocol,
  signal: Signal,
  data: Uint8Array,
): ExportTraceServiceResponse {
  if (protocol === "http/protobuf") {
    return fromBinary(ExportTraceServiceResponseSchema, data);
  }
  const text = new TextDecoder().decode(data).trim();
  const json = text === "" ? {} : JSON.parse(text);
  if (signal === "logs") {
    const logs = fromJson(ExportLogsServiceResponseSchema, json, {
      ignoreUnknownFields: true,
    });
    const partial = logs.partialSuccess;
    return fromJson(ExportTraceServiceResponseSchema, {
      ...(partial && {
        partialSuccess: {
          rejectedSpans: partial.rejectedLogRecords.toString(),
          errorMessage: partial.errorMessage,
        },
      }),
    });
  }
  return fromJson(ExportTraceServiceResponseSchema, json, {
    ignoreUnknownFields: true,
  });
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
 * Whether a failure the export delegate reports may succeed later. The
 * delegate does not say so itself; these are the outcomes its transport
 * treats as retryable (a retryable HTTP status after its last attempt, a
 * network error, a request timeout) plus its own concurrency refusal.
 */
function isRetryable(error: Error | undefined): boolean {
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
 * The failure as one line, without the endpoint's credentials or the
 * headers' values (the transport's own message may quote either).
 */
function describe(
  error: Error | undefined,
  url: string,
  secrets: Redactor,
  signal: Signal,
): Error {
  const detail = secrets.text(
    error?.message || error?.name || "unknown error",
  );
  const code = (error as { code?: unknown } | undefined)?.code;
  const status = typeof code === "number"
    ? ` (HTTP ${code})`
    : typeof code === "string"
    ? ` (${code})`
    : "";
  // Not retried: the same body would be refused again. Only this request's
  // spans are lost; the requests are already split below our own limit.
  const hint = code === 413
    ? ": the receiver's request body limit is lower than SPANBRIDGE_MAX_REQUEST_BODY_BYTES; lower it below the receiver's limit"
    : "";
  return new Error(
    `Cannot export ${signal === "logs" ? "log records" : "spans"} to ${
      redactUrl(url)
    }: ${detail}${status}${hint}`,
    { cause: error },
  );
}
