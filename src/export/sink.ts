/**
 * The controller's single entry point for export: decoded batches in, with
 * the process that sent them; resource merging, queueing and the configured
 * exporter behind it.
 *
 * @module
 */

import { SpanBatch } from "../otlp/mod.ts";
import type { Logger } from "../log.ts";
import type { ExportConfig } from "./config.ts";
import { createConsoleExporter } from "./console_exporter.ts";
import type { SpanExporter } from "./exporter.ts";
import { createOtlpExporter } from "./otlp_exporter.ts";
import { type ExportProblem, type QueueCounters, SpanQueue } from "./queue.ts";
import {
  detectHost,
  type HostInfo,
  type ProcessMeta,
  ResourceCache,
} from "./resource.ts";

/** The export counters the controller reports (see {@linkcode QueueCounters}). */
export type ExportCounters = QueueCounters;

/** Where the controller hands decoded spans. */
export interface SpanSink {
  /** Queues the spans of one record sent by `process`; never throws. */
  add(batch: SpanBatch, process: ProcessMeta): void;
  /**
   * The spans and bytes that would still be queued now; the controller
   * leaves records in the ring while there is no room for them.
   */
  room(): { spans: number; bytes: number; empty: boolean };
  /** A snapshot of the counters. */
  counters(): ExportCounters;
  /** Exports what was added so far, waiting at most `timeoutMs`; true when every span was settled (exported or counted as dropped). */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Delivers what was added within `timeoutMs` (default 10 s), drops and counts the rest, closes the exporter. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Options of {@linkcode createSink}. */
export interface SinkOptions {
  /** Where export problems are logged (rate-limited). */
  log: Logger;
  /**
   * The exporter to send with, when the caller builds it: the CLI wraps
   * {@linkcode exporterFor}(config) to watch its calls for telemetry; tests
   * pass a fake. Default: exporterFor(config).
   */
  exporter?: SpanExporter;
  /** Replaces host.name / host.arch detection (tests). */
  host?: HostInfo;
}

/** Creates a sink from a validated configuration. */
export function createSink(
  config: ExportConfig,
  options: SinkOptions,
): SpanSink {
  const exporter = options.exporter ?? exporterFor(config);
  const resources = new ResourceCache(
    config.resource,
    options.host ?? detectHost(config.resource.k8sNodeName),
    config.batch.maxResourceCacheBytes,
  );
  const queue = new SpanQueue(
    exporter ?? discard,
    config.batch,
    rateLimited(options.log),
  );
  return {
    add(batch, process) {
      const merged = batch.resourceSpans.map((rs) => ({
        ...rs,
        resource: resources.resolve(rs.resource, process),
      }));
      queue.add(new SpanBatch(merged, batch.spans, () => batch.release()));
    },
    room: () => queue.room(),
    counters: () => queue.counters(),
    flush: (timeoutMs) => queue.flush(timeoutMs),
    shutdown: (timeoutMs = 10_000) => queue.shutdown(timeoutMs),
  };
}

/** The exporter `config` asks for; undefined for OTEL_TRACES_EXPORTER=none. */
export function exporterFor(config: ExportConfig): SpanExporter | undefined {
  switch (config.exporter) {
    case "otlp":
      return createOtlpExporter(
        config.otlp,
        // The queue limits concurrent exports itself. The transport frees a
        // slot only after its callback, in which the queue already sends
        // the next request: one spare slot keeps that from being refused.
        config.batch.maxConcurrentExports + 1,
      );
    case "console":
      return createConsoleExporter();
    case "none":
      return undefined;
  }
}

/** OTEL_TRACES_EXPORTER=none: spans are counted as exported and go nowhere. */
const discard: SpanExporter = {
  export: () => Promise.resolve({ ok: true, rejected: 0 }),
  shutdown: () => Promise.resolve(),
};

/**
 * Logs the first problem of each reason at once, then at most one line per
 * reason and 10 s, which also counts the problems it stood for.
 */
function rateLimited(log: Logger): (problem: ExportProblem) => void {
  const byReason = new Map<
    string,
    { last: number; suppressed: number; suppressedSpans: number }
  >();
  return (problem) => {
    let state = byReason.get(problem.reason);
    if (!state) {
      state = { last: -Infinity, suppressed: 0, suppressedSpans: 0 };
      byReason.set(problem.reason, state);
    }
    const now = Date.now();
    if (now - state.last < 10_000) {
      state.suppressed++;
      state.suppressedSpans += problem.spans;
      return;
    }
    log.warn(problem.message, {
      reason: problem.reason,
      spans: problem.spans,
      ...(state.suppressed > 0
        ? {
          earlierProblems: state.suppressed,
          earlierSpans: state.suppressedSpans,
        }
        : {}),
    });
    state.last = now;
    state.suppressed = 0;
    state.suppressedSpans = 0;
  };
}
