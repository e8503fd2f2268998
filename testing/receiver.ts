/**
 * What an OTLP receiver got, flattened for span-by-span assertions: every
 * span as OTLP JSON with its resource and scope beside it.
 *
 * @module
 */
import { createTraceHandler } from "../src/receive/mod.ts";
import { toOtlpJson } from "../src/otlp/mod.ts";
import { create } from "@bufbuild/protobuf";
import { ExportTraceServiceRequestSchema } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import type { TracesData } from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import type { LogsData } from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";

/** A JSON object as OTLP/JSON renders it. */
// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

/** One received span with the resource and scope it came under. */
export interface ReceivedSpan {
  span: Json;
  resource: Json;
  scope: Json;
  format: "protobuf" | "json";
}

/** One HTTP request a {@linkcode CollectingReceiver} answered. */
export interface ReceivedRequest {
  /** When it arrived (Date.now()). */
  at: number;
  /** The status it was answered with (0 until answered). */
  status: number;
  /** Spans in its body (0 when it could not be decoded). */
  spans: number;
  /** Its headers (a tenant's X-Scope-OrgID, say). */
  headers: Headers;
}

/**
 * Scripts a receiver's answer to request number `n` (0-based), after the
 * body was decoded: a Response to send instead of accepting the spans, or
 * undefined to accept them (the script may wait first, to answer late).
 */
export type Script = (
  n: number,
) => Response | undefined | Promise<Response | undefined>;

/** Options of {@linkcode collectingReceiver}. */
export interface CollectingReceiverOptions {
  /** Port; default 0 (a free one). */
  port?: number;
  /** Address it listens on; default 127.0.0.1 (a cluster's pods reach another). */
  hostname?: string;
  /** Answers requests in place of the OTLP handler (faults). */
  script?: Script;
  /** Refuses spans of accepted requests through OTLP partial success. */
  partialSuccess?: (
    spans: number,
  ) => { rejectedSpans: number; errorMessage: string } | undefined;
  /** Answers 413 to a larger request body, as the Collector does past 20 MiB. Default 64 MiB. */
  maxBodyBytes?: number;
}

/** A loopback OTLP/HTTP receiver that keeps every span it gets. */
export interface CollectingReceiver {
  /** The endpoint to give OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  /** The port it listens on. */
  port: number;
  /** Spans of the requests answered with the handler's own 200, in arrival order. */
  spans: ReceivedSpan[];
  /** Every /v1/traces request so far, in arrival order. */
  requests: ReceivedRequest[];
  /** Log records of the /v1/logs requests (accepted, never scripted), in arrival order. */
  logRecords: number;
  /** The bodies of those /v1/logs requests. */
  logs: LogsData[];
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts a receiver on loopback that collects spans: the project's OTLP
 * handler (src/receive), optionally behind a script of faults.
 */
export function collectingReceiver(
  options: CollectingReceiverOptions = {},
): Promise<CollectingReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: ReceivedRequest[] = [];
  // Log records are accepted apart: the faults and partial successes of
  // this receiver are scripted for spans, and the traced programs log too.
  const logsData: LogsData[] = [];
  const logs = createTraceHandler({
    maxBodyBytes: options.maxBodyBytes,
    onLogs: (l) => logsData.push(l),
  });
  const serve = async (request: Request): Promise<Response> => {
    if (new URL(request.url).pathname === "/v1/logs") {
      return await logs.handle(request);
    }
    const record: ReceivedRequest = {
      at: Date.now(),
      status: 0,
      spans: 0,
      headers: request.headers,
    };
    requests.push(record);
    const mine = requests.length - 1;
    // A handler per request, so the spans of concurrent requests stay apart.
    const body: ReceivedSpan[] = [];
    const handler = createTraceHandler({
      onTraces: (traces: TracesData, format) => collect(traces, format, body),
      partialSuccess: options.partialSuccess &&
        ((traces) => options.partialSuccess!(countSpans(traces))),
      maxBodyBytes: options.maxBodyBytes,
    });
    const accepted = await handler.handle(request);
    record.spans = body.length;
    const scripted = await options.script?.(mine);
    const response = scripted ?? accepted;
    if (response === accepted) spans.push(...body);
    record.status = response.status;
    return response;
  };
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      onListen: ({ port }) =>
        resolve({
          endpoint: `http://${options.hostname ?? "127.0.0.1"}:${port}`,
          port,
          spans,
          requests,
          get logRecords() {
            return logs.counters().logRecords;
          },
          logs: logsData,
          close: () => server.shutdown(),
        }),
    }, serve);
  });
}

/** A loopback port nothing listens on (it was free a moment ago). */
export function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function countSpans(traces: TracesData): number {
  let n = 0;
  for (const rs of traces.resourceSpans) {
    for (const ss of rs.scopeSpans) n += ss.spans.length;
  }
  return n;
}

function collect(
  traces: TracesData,
  format: "protobuf" | "json",
  into: ReceivedSpan[],
): void {
  const json: Json = toOtlpJson(
    create(ExportTraceServiceRequestSchema, {
      resourceSpans: traces.resourceSpans,
    }),
  );
  for (const rs of json.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        into.push({
          span,
          resource: rs.resource ?? {},
          scope: ss.scope ?? {},
          format,
        });
      }
    }
  }
}

/** The attribute list of an OTLP JSON object as a key → AnyValue map. */
export function attributeMap(obj: Json | undefined): Map<string, Json> {
  return new Map(
    (obj?.attributes ?? []).map((kv: Json) => [kv.key, kv.value ?? {}]),
  );
}
