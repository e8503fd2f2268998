/**
 * The controller's single entry point for export: decoded batches in, with
 * the process that sent them; resource merging, one queue per signal (spans,
 * logs) and the configured exporter of each behind it.
 *
 * @module
 */

import { OtlpBatch, type Signal } from "../otlp/mod.ts";
import type { Logger } from "../log.ts";
import type { ExportConfig, SignalExportConfig } from "./config.ts";
import { createConsoleExporter } from "./console_exporter.ts";
import type { Exporter } from "./exporter.ts";
import { createOtlpExporter } from "./otlp_exporter.ts";
import {
  type ExportProblem,
  ExportQueue,
  QueueBytes,
  type QueueCounters,
} from "./queue.ts";
import {
  detectHost,
  type HostInfo,
  type ProcessMeta,
  ResourceCache,
} from "./resource.ts";

/** The export counters the controller reports (see {@linkcode QueueCounters}). */
export type ExportCounters = QueueCounters;

/** Where the controller hands decoded spans and log records. */
export interface ExportSink {
  /**
   * Queues the spans (log records) of one record sent by `process` in the
   * queue of `batch.signal`; never throws.
   */
  add(batch: OtlpBatch, process: ProcessMeta): void;
  /**
   * The spans (log records) and bytes that would still be queued now, in
   * the fuller of the queues (the ring holds every signal); the controller
   * leaves records in the ring while there is no room for them.
   */
  room(): { spans: number; bytes: number; empty: boolean };
  /** A snapshot of the span queue's counters. */
  counters(): ExportCounters;
  /** A snapshot of the log queue's counters (its "spans" are log records). */
  logCounters(): ExportCounters;
  /** Exports what was added so far, waiting at most `timeoutMs`; true when every span and log record was settled (exported or counted as dropped). */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Delivers what was added within `timeoutMs` (default 10 s), drops and counts the rest, closes the exporter. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Options of {@linkcode createSink}. */
export interface SinkOptions {
  /** Where export problems are logged (rate-limited). */
  log: Logger;
  /**
   * The span exporter to send with, when the caller builds it: the CLI wraps
   * {@linkcode exporterFor}(config) to watch its calls for telemetry; tests
   * pass a fake. Default: exporterFor(config).
   */
  exporter?: Exporter;
  /** The log exporter to send with (tests pass a fake). Default: exporterFor(config.logs). */
  logExporter?: Exporter;
  /** Replaces host.name / host.arch detection (tests). */
  host?: HostInfo;
}

/** Creates a sink from a validated configuration. */
export function createSink(
  config: ExportConfig,
  options: SinkOptions,
): ExportSink {
  // One cache for both signals: the log records of a process get the very
  // resource its spans get.
  const resources = new ResourceCache(
    config.resource,
    options.host ?? detectHost(config.resource.k8sNodeName),
    config.batch.maxResourceCacheBytes,
  );
  const problems = rateLimited(options.log);
  // One byte bound for both: SPANBRIDGE_MAX_QUEUE_BYTES is the agent's.
  const bytes = new QueueBytes(config.batch.maxQueueBytes);
  const queues: Record<Signal, ExportQueue> = {
    traces: new ExportQueue(
      options.exporter ?? exporterFor(config) ?? discard,
      config.batch,
      problems,
      "traces",
      bytes,
    ),
    logs: new ExportQueue(
      options.logExporter ?? exporterFor(config.logs) ?? discard,
      config.logs.batch,
      problems,
      "logs",
      bytes,
    ),
  };
  const all = Object.values(queues);
  return {
    add(batch, process) {
      const merged = batch.groups.map((rs) => ({
        ...rs,
        resource: resources.resolve(rs.resource, process),
      }));
      queues[batch.signal].add(
        new OtlpBatch(merged, batch.items, () => batch.release(), batch.signal),
      );
    },
    room: () => {
      const rooms = all.map((queue) => queue.room());
      return {
        spans: Math.min(...rooms.map((r) => r.spans)),
        bytes: Math.min(...rooms.map((r) => r.bytes)),
        empty: rooms.every((r) => r.empty),
      };
    },
    counters: () => queues.traces.counters(),
    logCounters: () => queues.logs.counters(),
    flush: async (timeoutMs) =>
      (await Promise.all(all.map((queue) => queue.flush(timeoutMs)))).every(
        (done) => done,
      ),
    shutdown: async (timeoutMs = 10_000) => {
      await Promise.all(all.map((queue) => queue.shutdown(timeoutMs)));
    },
  };
}

/**
 * The exporter `config` asks for (sending the signal of `config.otlp`);
 * undefined for OTEL_TRACES_EXPORTER=none (OTEL_LOGS_EXPORTER=none).
 */
export function exporterFor(
  config: SignalExportConfig,
): Exporter | undefined {
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

/** OTLP protocols as `otel.component.type` names their exporters. */
const componentTransport = {
  grpc: "grpc",
  "http/protobuf": "http",
  "http/json": "http_json",
} as const;

/**
 * The `otel.component.type` of the exporter `config` asks for, sending
 * `signal`: the semantic conventions' name of an OTLP exporter
 * (otlp_http_span_exporter, otlp_grpc_log_exporter, ...), ours for the
 * console one.
 */
export function exporterComponentType(
  config: SignalExportConfig,
  signal: Signal,
): string {
  const item = signal === "traces" ? "span" : "log";
  return config.exporter === "otlp"
    ? `otlp_${componentTransport[config.otlp.protocol]}_${item}_exporter`
    : `spanbridge.${config.exporter}_${item}_exporter`;
}

/** OTEL_TRACES_EXPORTER=none (OTEL_LOGS_EXPORTER=none): counted as exported, sent nowhere. */
const discard: Exporter = {
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
    // Per signal too: a log outage must not hide the spans'.
    const key = `${problem.signal}/${problem.reason}`;
    let state = byReason.get(key);
    if (!state) {
      state = { last: -Infinity, suppressed: 0, suppressedSpans: 0 };
      byReason.set(key, state);
    }
    const now = Date.now();
    if (now - state.last < 10_000) {
      state.suppressed++;
      state.suppressedSpans += problem.spans;
      return;
    }
    // Log records are counted as such, spans as before.
    const unit = problem.signal === "logs" ? "LogRecords" : "Spans";
    log.warn(problem.message, {
      reason: problem.reason,
      ...(problem.signal === "logs" && { signal: problem.signal }),
      [unit === "Spans" ? "spans" : "logRecords"]: problem.spans,
      ...(state.suppressed > 0
        ? {
          earlierProblems: state.suppressed,
          [`earlier${unit}`]: state.suppressedSpans,
        }
        : {}),
    });
    state.last = now;
    state.suppressed = 0;
    state.suppressedSpans = 0;
  };
}
