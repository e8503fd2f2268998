/**
 * The one OTLP transport of every signal: where requests go and how (URL,
 * headers, TLS and mutual TLS, timeout, compression, retries), read from
 * the OTEL_EXPORTER_OTLP_* variables once, with their defaults written in
 * one place (_otlp_config.ts, re-exported here), and the sending itself.
 * The span exporter, the agent's metrics push and a log exporter differ only
 * in the {@linkcode OtlpSignal} they name and the requests they encode.
 *
 * Two transports sit behind it, chosen by the protocol: OTLP/HTTP
 * (http/protobuf, http/json) on OpenTelemetry JS's own exporter transport
 * (`@opentelemetry/otlp-exporter-base`: retries with backoff and
 * Retry-After, timeouts, compression, TLS, a bound on requests in flight),
 * and OTLP/gRPC (grpc) through `@grpc/grpc-js` in the same export delegate
 * (_otlp_grpc.ts). Both are built from the validated settings only, never
 * from OpenTelemetry JS's own reading of the environment.
 *
 * ```ts ignore
 * const config = readOtlpTransport(Deno.env.toObject(), "logs");
 * const transport = createOtlpTransport(config, { serializer, items });
 * const result = await transport.send(request); // never rejects
 * ```
 *
 * @module
 */

import { ExportResultCode } from "@opentelemetry/core";
import type { IOtlpExportDelegate } from "@opentelemetry/otlp-exporter-base";
import type {
  IExporterMetricsHelper,
  ISerializer,
} from "@opentelemetry/otlp-transformer";
import { Redactor, redactUrl } from "../redact.ts";
import {
  otlpDefaults,
  otlpSignals,
  type OtlpTransportConfig,
} from "./_otlp_config.ts";
import {
  grpcExportDelegate,
  grpcFailureDetail,
  grpcRetryable,
} from "./_otlp_grpc.ts";
import {
  httpExportDelegate,
  httpFailureDetail,
  httpRetryable,
} from "./_otlp_http.ts";

export {
  otlpDefaults,
  type OtlpProtocol,
  type OtlpSignal,
  otlpSignals,
  otlpTimeoutBounds,
  type OtlpTransportConfig,
  otlpTransportConfig,
  readOtlpTransport,
} from "./_otlp_config.ts";

/** How one request of a signal is encoded and its answer read. */
export interface OtlpEncoding<Request, Response> {
  /** Encodes a request in the configured protocol and decodes the receiver's answer. */
  serializer: ISerializer<Request, Response>;
  /** Names and counts a request's items (OpenTelemetry JS's exporter metrics helper). */
  items: IExporterMetricsHelper<Request>;
}

/**
 * OpenTelemetry JS's export delegate for `config`: what its exporter classes
 * (the metrics push's `OTLPMetricExporterBase`) take. At most
 * `concurrencyLimit` requests are in flight.
 */
export function createOtlpExportDelegate<Request, Response>(
  config: OtlpTransportConfig,
  encoding: OtlpEncoding<Request, Response>,
  concurrencyLimit: number = otlpDefaults.concurrencyLimit,
): IOtlpExportDelegate<Request> {
  return wireOf(config).delegate(
    config,
    encoding.serializer,
    encoding.items,
    concurrencyLimit,
  );
}

/** How one send ended. */
export type OtlpSendResult<Response> =
  /** Delivered; `response` is the receiver's answer (partial success), when it sent one. */
  | { ok: true; response?: Response }
  /**
   * Not delivered, after the transport's own retries. `retryable` failures
   * (unreachable, timed out, HTTP 429/502/503/504, the gRPC codes the OTLP
   * specification retries) may succeed later; the others (an HTTP 4xx, a
   * gRPC UNAUTHENTICATED or INVALID_ARGUMENT) never will. `error` names the
   * endpoint without its credentials and quotes no header value.
   */
  | { ok: false; error: Error; retryable: boolean };

/** One signal's OTLP transport. */
export interface OtlpTransport<Request, Response> {
  /**
   * Sends `request`, retrying as the OTLP specification says within the
   * configured timeout. Never rejects. The request is encoded before this
   * returns.
   */
  send(request: Request): Promise<OtlpSendResult<Response>>;
  /** Waits for the sends in progress and releases connections. */
  shutdown(): Promise<void>;
}

/** Creates the transport of `config`'s signal. */
export function createOtlpTransport<Request, Response>(
  config: OtlpTransportConfig,
  encoding: OtlpEncoding<Request, Response>,
  concurrencyLimit: number = otlpDefaults.concurrencyLimit,
): OtlpTransport<Request, Response> {
  // The delegate reads the response (the serializer's deserializeResponse)
  // and then calls the send's callback in the same synchronous step, so the
  // response parked here is always the one of the send whose callback runs
  // next.
  let parked: Response | undefined;
  const delegate = createOtlpExportDelegate(config, {
    serializer: {
      serializeRequest: (request) =>
        encoding.serializer.serializeRequest(request),
      deserializeResponse: (data) =>
        parked = encoding.serializer.deserializeResponse(data),
    },
    items: encoding.items,
  }, concurrencyLimit);
  const wire = wireOf(config);
  const secrets = new Redactor([config]);
  const what = `Cannot export ${otlpSignals[config.signal].items} to ${
    redactUrl(config.url)
  }`;
  return {
    send(request) {
      return new Promise((resolve) => {
        delegate.export(request, (result) => {
          const response = parked;
          parked = undefined;
          if (result.code === ExportResultCode.SUCCESS) {
            resolve({ ok: true, ...(response && { response }) });
            return;
          }
          // The transport's own message may quote the URL or a header.
          const error = result.error;
          const detail = secrets.text(
            error?.message || error?.name || "unknown error",
          );
          resolve({
            ok: false,
            error: new Error(
              `${what}: ${detail}${wire.detail(error)}`,
              { cause: error },
            ),
            retryable: wire.retryable(error),
          });
        });
      });
    },
    shutdown: () => delegate.shutdown(),
  };
}

/** The sending of each transport, and how to read its failures. */
const wires = {
  http: {
    delegate: httpExportDelegate,
    retryable: httpRetryable,
    detail: httpFailureDetail,
  },
  grpc: {
    delegate: grpcExportDelegate,
    retryable: grpcRetryable,
    detail: grpcFailureDetail,
  },
};

function wireOf(config: OtlpTransportConfig): typeof wires.http {
  return wires[config.protocol === "grpc" ? "grpc" : "http"];
}
