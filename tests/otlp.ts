/**
 * What an OTLP receiver got, flattened for span-by-span assertions: every
 * span as OTLP JSON with its resource and scope beside it.
 *
 * @module
 */
import { startReceiver } from "../src/receive/mod.ts";
import { toOtlpJson } from "../src/export/otlp_json.ts";
import { create } from "@bufbuild/protobuf";
import { ExportTraceServiceRequestSchema } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import type { TracesData } from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";

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

/** A loopback OTLP/HTTP receiver that keeps every span it gets. */
export interface CollectingReceiver {
  /** The endpoint to give OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  /** Every span received so far, in arrival order. */
  spans: ReceivedSpan[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a receiver on a free loopback port that collects spans. */
export async function collectingReceiver(): Promise<CollectingReceiver> {
  const spans: ReceivedSpan[] = [];
  const receiver = await startReceiver({
    hostname: "127.0.0.1",
    port: 0,
    print: false,
    onTraces: (traces: TracesData, format) => {
      const json: Json = toOtlpJson(
        create(ExportTraceServiceRequestSchema, {
          resourceSpans: traces.resourceSpans,
        }),
      );
      for (const rs of json.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            spans.push({
              span,
              resource: rs.resource ?? {},
              scope: ss.scope ?? {},
              format,
            });
          }
        }
      }
    },
  });
  return {
    endpoint: `http://127.0.0.1:${receiver.port}`,
    spans,
    close: () => receiver.close(),
  };
}

/** The attribute list of an OTLP JSON object as a key → AnyValue map. */
export function attributeMap(obj: Json | undefined): Map<string, Json> {
  return new Map(
    (obj?.attributes ?? []).map((kv: Json) => [kv.key, kv.value ?? {}]),
  );
}
