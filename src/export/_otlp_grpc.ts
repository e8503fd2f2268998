/**
 * OTLP over gRPC: requests go out through `@grpc/grpc-js` (the gRPC client
 * OpenTelemetry JS uses), inside OpenTelemetry JS's network export delegate
 * (the one the HTTP transport uses too: a bound on requests in flight, the
 * answer read for partial success).
 *
 * Why not `createOtlpGrpcExportDelegate` of
 * `@opentelemetry/otlp-grpc-exporter-base` (0.301.0): it runs under Deno,
 * but it sends each request once (its delegate has no retrying transport,
 * unlike the HTTP one) and takes no channel options, so the specification's
 * retries could only be added around it, encoding the request anew and
 * giving each attempt the whole timeout again. gRPC's own retry policy
 * (the service config below) retries with backoff within one deadline, on
 * the same bytes. Its client constructor is the same as that package's: a
 * unary `Export` method that passes the encoded bytes through.
 *
 * `@grpc/grpc-js` is loaded at the first request: an agent that sends
 * OTLP/HTTP does not carry it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type * as Grpc from "@grpc/grpc-js";
import {
  createOtlpNetworkExportDelegate,
  ExporterMetrics,
  type ExportResponse,
  type IExporterTransport,
  type IOtlpExportDelegate,
} from "@opentelemetry/otlp-exporter-base";
import type {
  IExporterMetricsHelper,
  ISerializer,
} from "@opentelemetry/otlp-transformer";
import { otlpSignals, type OtlpTransportConfig } from "./_otlp_config.ts";

/** The gRPC status codes (grpc/status.h), by number. */
const codeNames = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/**
 * The codes the OTLP specification calls retryable. RESOURCE_EXHAUSTED is
 * retryable there only when the server sends RetryInfo, which gRPC's retry
 * policy cannot look at: it is not retried.
 */
const retryableCodes = [
  "CANCELLED",
  "DEADLINE_EXCEEDED",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNAVAILABLE",
  "DATA_LOSS",
] as const;

/**
 * The retry policy of every export call: the backoff of OpenTelemetry JS's
 * HTTP transport (1 s, times 1.5, at most 5 s) and the most attempts gRPC
 * allows (5), all within the call's deadline (the configured timeout).
 */
function serviceConfig(service: string): string {
  return JSON.stringify({
    methodConfig: [{
      name: [{ service }],
      retryPolicy: {
        maxAttempts: 5,
        initialBackoff: "1s",
        maxBackoff: "5s",
        backoffMultiplier: 1.5,
        // DEADLINE_EXCEEDED ends the call: no time is left to retry in.
        retryableStatusCodes: retryableCodes.filter((c) =>
          c !== "DEADLINE_EXCEEDED"
        ),
      },
    }],
  });
}

/**
 * An export delegate that sends `serializer`'s protobuf bodies to the gRPC
 * service of `config`'s signal, at most `concurrencyLimit` at once.
 */
export function grpcExportDelegate<Request, Response>(
  config: OtlpTransportConfig,
  serializer: ISerializer<Request, Response>,
  items: IExporterMetricsHelper<Request>,
  concurrencyLimit: number,
): IOtlpExportDelegate<Request> {
  const metrics = new ExporterMetrics({
    componentType: `otlp_grpc_${items.name}_exporter`,
    metricsHelper: items,
    url: config.url,
    meterProvider: undefined,
    responseAttributesFromError: () => ({}),
  });
  return createOtlpNetworkExportDelegate(
    {
      timeoutMillis: config.timeoutMillis,
      concurrencyLimit,
      compression: config.compression,
    },
    serializer,
    metrics,
    new GrpcTransport(config),
  );
}

/** One channel to the receiver, opened at the first request. */
class GrpcTransport implements IExporterTransport {
  readonly #config: OtlpTransportConfig;
  #client?: Promise<{ grpc: typeof Grpc; client: Grpc.Client }>;
  #closed = false;

  constructor(config: OtlpTransportConfig) {
    this.#config = config;
  }

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    let opened: { grpc: typeof Grpc; client: Grpc.Client };
    try {
      opened = await (this.#client ??= this.#open());
    } catch (error) {
      return { status: "failure", error: error as Error };
    }
    const { grpc, client } = opened;
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(this.#config.headers)) {
      const name = key.toLowerCase();
      // Binary metadata ("-bin") travels as bytes.
      metadata.set(name, name.endsWith("-bin") ? Buffer.from(value) : value);
    }
    const path = `/${otlpSignals[this.#config.signal].grpcService}/Export`;
    // No copy: the caller keeps the bytes until this answer.
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return new Promise((resolve) => {
      client.makeUnaryRequest<Buffer, Buffer>(
        path,
        (b) => b,
        (b) => b,
        body,
        metadata,
        { deadline: Date.now() + timeoutMillis },
        (error, response) => {
          resolve(
            error
              ? { status: "failure", error }
              : { status: "success", data: response },
          );
        },
      );
    });
  }

  shutdown(): void {
    this.#closed = true;
    void this.#client?.then(({ client }) => client.close(), () => {});
  }

  async #open(): Promise<{ grpc: typeof Grpc; client: Grpc.Client }> {
    const grpc = await import("@grpc/grpc-js");
    if (this.#closed) throw new Error("the exporter was shut down");
    const { url, ca, cert, key, compression, signal } = this.#config;
    const target = new URL(url);
    const credentials = target.protocol === "https:"
      ? grpc.credentials.createSsl(
        ca && Buffer.from(ca),
        key && Buffer.from(key),
        cert && Buffer.from(cert),
      )
      : grpc.credentials.createInsecure();
    const port = target.port || (target.protocol === "https:" ? "443" : "80");
    const client = new grpc.Client(`${target.hostname}:${port}`, credentials, {
      "grpc.default_compression_algorithm": compression === "gzip" ? 2 : 0,
      "grpc.service_config": serviceConfig(otlpSignals[signal].grpcService),
      // A request is retried only while gRPC still holds it, and it holds
      // none above these sizes (256 KiB and 16 MiB by default, below our
      // requests). The bytes are ours until the answer anyway.
      "grpc.per_rpc_retry_buffer_size": 256 << 20,
      "grpc.retry_buffer_size": 1024 << 20,
    });
    return { grpc, client };
  }
}

/** Whether a failure the gRPC delegate reports may succeed later. */
export function grpcRetryable(error: Error | undefined): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "number") {
    return error?.message === "Concurrent export limit reached";
  }
  return (retryableCodes as readonly string[]).includes(codeName(code));
}

/** The gRPC status of a failure, as " (gRPC UNAVAILABLE)", and what to do about it where we know. */
export function grpcFailureDetail(error: Error | undefined): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "number") return "";
  const name = codeName(code);
  const hint = name === "RESOURCE_EXHAUSTED"
    ? ": the request may exceed the receiver's message size limit (the Collector's max_recv_msg_size_mib, 4 MiB by default); lower SPANBRIDGE_MAX_EXPORT_BATCH_BYTES and SPANBRIDGE_MAX_REQUEST_BODY_BYTES below it"
    : name === "UNAUTHENTICATED"
    ? ": check the credentials in OTEL_EXPORTER_OTLP_HEADERS"
    : "";
  return ` (gRPC ${name})${hint}`;
}

function codeName(code: number): string {
  return codeNames[code] ?? `status ${code}`;
}
