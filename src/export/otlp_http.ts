/**
 * The settings of OpenTelemetry JS's OTLP/HTTP transport, made from a
 * validated {@linkcode OtlpTransportConfig} and nothing else: the span
 * exporter and the agent's metrics push both build their export delegate
 * from these, so neither lets OpenTelemetry JS read the OTEL_* environment.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import {
  type createOtlpHttpExportDelegate,
  httpAgentFactoryFromOptions,
} from "@opentelemetry/otlp-exporter-base/node-http";
import type { OtlpTransportConfig } from "./config.ts";

/** What `createOtlpHttpExportDelegate` takes as its transport settings. */
export type OtlpHttpSettings = Parameters<
  typeof createOtlpHttpExportDelegate
>[0];

const compressions = {
  gzip: CompressionAlgorithm.GZIP,
  none: CompressionAlgorithm.NONE,
};

/**
 * The delegate settings for `transport`: its url, headers (plus
 * `Content-Type: contentType`), timeout, compression and TLS files, with at
 * most `concurrencyLimit` requests in flight.
 */
export function otlpHttpSettings(
  transport: OtlpTransportConfig,
  contentType: string,
  concurrencyLimit: number,
): OtlpHttpSettings {
  const headers = { ...transport.headers, "Content-Type": contentType };
  return {
    url: transport.url,
    headers: () => Promise.resolve({ ...headers }),
    timeoutMillis: transport.timeoutMillis,
    compression: compressions[transport.compression],
    concurrencyLimit,
    // Node's https agent (Deno implements it) takes the PEM bytes as they are.
    agentFactory: httpAgentFactoryFromOptions({
      keepAlive: true,
      ...(transport.ca && { ca: Buffer.from(transport.ca) }),
      ...(transport.cert && { cert: Buffer.from(transport.cert) }),
      ...(transport.key && { key: Buffer.from(transport.key) }),
    }),
    userAgent: undefined,
  };
}
