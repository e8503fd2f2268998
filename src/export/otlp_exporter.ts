/**
 * OTLP export of our span and log batches through the OpenTelemetry JS
 * exporter stack.
 *
 * Why not `OTLPTraceExporter` from @opentelemetry/exporter-trace-otlp-http:
 * it takes ReadableSpan objects and rebuilds OTLP from them, which cannot
 * carry what the Go SDK sent exactly (a double 3.0 becomes an int, int64
 * values above 2^53 lose precision, bytes and key/value-list attributes do
 * not exist there). That exporter is only `createOtlpHttpExportDelegate`
 * with a ReadableSpan serializer. We build the same delegate with a
 * serializer of our batches (protobuf: the validated ScopeSpans bytes the SDK
 * sent, copied behind the merged resources, see OtlpBatch.toBinary; OTLP/JSON:
 * a full decode and otlp_json.ts, several times slower), so the spans leave
 * exact while OpenTelemetry JS still does the transport (otlp_transport.ts,
 * the one every signal uses). Log batches travel the same way: LogsData
 * has the shape of TracesData on the wire, and the transport's signal
 * "logs" sends them to /v1/logs.
 *
 * @module
 */

import { fromBinary, fromJson } from "@bufbuild/protobuf";
import {
  type ExportTraceServiceResponse,
  ExportTraceServiceResponseSchema,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { ExportLogsServiceResponseSchema } from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import { BufferPool, type OtlpBatch, toOtlpJson } from "../otlp/mod.ts";
import type { Exporter, ExportOutcome } from "./exporter.ts";
import {
  createOtlpTransport,
  type OtlpProtocol,
  type OtlpTransportConfig,
} from "./otlp_transport.ts";

/**
 * Bytes of request bodies kept for reuse: the default export concurrency
 * (2) of the largest default request (4 MiB), with room for its framing.
 */
const bodyPoolBytes = 12 << 20;

/**
 * Creates an exporter that sends batches as `config` says: span batches for
 * its signal "traces", log batches for "logs"; at most `concurrencyLimit`
 * requests at once.
 */
export function createOtlpExporter(
  config: OtlpTransportConfig,
  concurrencyLimit?: number,
): Exporter {
  const { protocol, signal } = config;
  if (signal !== "traces" && signal !== "logs") {
    throw new Error(
      `Cannot export batches of spans or log records as OTLP ${signal}: the transport's signal must be traces or logs`,
    );
  }
  // Request bodies are written into pooled buffers, each taken back when its
  // send has ended: the transport (and its retries) is done with it. The
  // transport encodes within send(), so `body` is always the current one's.
  const bodies = new BufferPool(bodyPoolBytes);
  let body: Uint8Array<ArrayBuffer> | undefined;
  const transport = createOtlpTransport<OtlpBatch, ExportTraceServiceResponse>(
    config,
    {
      serializer: {
        serializeRequest: (batch) =>
          protocol === "http/json"
            ? new TextEncoder().encode(JSON.stringify(toOtlpJson(batch)))
            : batch.toBinary((size) => body = bodies.acquire(size)),
        deserializeResponse: (data) => decodeResponse(protocol, signal, data),
      },
      items: {
        name: signal === "logs" ? "log" : "span",
        countItems: (b) => b.items,
      },
    },
    concurrencyLimit,
  );
  return {
    async export(request): Promise<ExportOutcome> {
      body = undefined;
      const sending = transport.send(request);
      const sent = body;
      body = undefined;
      const result = await sending;
      if (sent) bodies.release(sent);
      if (!result.ok) return result;
      const partial = result.response?.partialSuccess;
      return {
        ok: true,
        rejected: Number(partial?.rejectedSpans ?? 0n),
        message: partial?.errorMessage || undefined,
      };
    },
    shutdown: () => transport.shutdown(),
  };
}

/**
 * The response's partial success, as a trace response: a logs response has
 * the same fields and numbers on the wire (rejected_log_records is field 1,
 * as rejected_spans is), only its JSON names differ.
 */
function decodeResponse(
  protocol: OtlpProtocol,
  signal: "traces" | "logs",
  data: Uint8Array,
): ExportTraceServiceResponse {
  if (protocol !== "http/json") {
    return fromBinary(ExportTraceServiceResponseSchema, data);
  }
  const text = new TextDecoder().decode(data).trim();
  const json = text === "" ? {} : JSON.parse(text);
  if (signal === "logs") {
    const partial = fromJson(ExportLogsServiceResponseSchema, json, {
      ignoreUnknownFields: true,
    }).partialSuccess;
    return fromJson(
      ExportTraceServiceResponseSchema,
      partial
        ? {
          partialSuccess: {
            rejectedSpans: partial.rejectedLogRecords.toString(),
            errorMessage: partial.errorMessage,
          },
        }
        : {},
    );
  }
  return fromJson(ExportTraceServiceResponseSchema, json, {
    ignoreUnknownFields: true,
  });
}
