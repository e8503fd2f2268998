/**
 * The seam between a batching queue and a destination for its signal's
 * items (spans or log records).
 *
 * @module
 */

import type { OtlpBatch } from "../otlp/mod.ts";

/** How one export call ended. */
export type ExportOutcome =
  /** Delivered; `rejected` items were refused by the receiver (OTLP partial success). */
  | { ok: true; rejected: number; message?: string }
  /**
   * Not delivered, after the exporter's own retries. `retryable` failures
   * (unreachable, timed out, HTTP 429/502/503/504, gRPC UNAVAILABLE and the
   * other codes the OTLP specification retries) may succeed later; the
   * others (an HTTP 4xx, a gRPC refusal) never will.
   */
  | { ok: false; error: Error; retryable: boolean };

/** Something that delivers batches of one signal's items. */
export interface Exporter {
  /**
   * Delivers `request`: one export request, one ResourceSpans (ResourceLogs)
   * per resource and schema URL. Never rejects.
   */
  export(request: OtlpBatch): Promise<ExportOutcome>;
  /** Waits for exports in progress and releases connections. */
  shutdown(): Promise<void>;
}
