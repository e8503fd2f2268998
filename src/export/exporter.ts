/**
 * The seam between the batching queue and a destination for spans.
 *
 * @module
 */

import type { ExportTraceServiceRequest } from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";

/** How one export call ended. */
export type ExportOutcome =
  /** Delivered; `rejected` spans were refused by the receiver (OTLP partial success). */
  | { ok: true; rejected: number; message?: string }
  /** Not delivered, after the exporter's own retries. */
  | { ok: false; error: Error };

/** Something that delivers batches of spans. */
export interface SpanExporter {
  /** Delivers `request`, which holds `spans` spans; never rejects. */
  export(
    request: ExportTraceServiceRequest,
    spans: number,
  ): Promise<ExportOutcome>;
  /** Waits for exports in progress and releases connections. */
  shutdown(): Promise<void>;
}
