/**
 * The agent's self-metrics, built with the OpenTelemetry JS metrics SDK:
 * read from the controller's counters when collected, served as Prometheus
 * text and, optionally, pushed over OTLP/HTTP.
 *
 * Names follow the semantic conventions for SDK self-observability where
 * one fits (`otel.sdk.exporter.span.exported`, `otel.sdk.exporter.span.inflight`,
 * `otel.sdk.exporter.operation.duration`, `otel.sdk.processor.span.processed`,
 * `otel.sdk.processor.span.queue.size`, and the same four for logs:
 * `otel.sdk.exporter.log.exported`, `otel.sdk.exporter.log.inflight`,
 * `otel.sdk.processor.log.processed`, `otel.sdk.processor.log.queue.size`);
 * what only spanbridge has is under `spanbridge.*`.
 *
 * @module
 */
import type {
  Attributes,
  BatchObservableResult,
  ObservableCounter,
  ObservableUpDownCounter,
} from "@opentelemetry/api";
import { MeterProvider, type MetricReader } from "@opentelemetry/sdk-metrics";
import {
  PrometheusExporter,
  PrometheusSerializer,
} from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { type ControllerStats, recordsLost } from "../controller/mod.ts";
import { DROP_REASONS, type ExportCounters } from "../export/mod.ts";
import type { OtlpMetricsConfig } from "./config.ts";
import type { ExportCall } from "./export_watch.ts";

/** Options of {@linkcode AgentMetrics}. */
export interface AgentMetricsOptions {
  /** The counters right now; undefined before the controller runs. */
  stats: () => ControllerStats | undefined;
  /** Resource attributes of the agent itself (service.name ...). */
  resource: Attributes;
  /** Push over OTLP/HTTP: where and how, and every how many ms. */
  otlp?: OtlpMetricsConfig;
}

/** Bucket bounds of the export duration histogram, in seconds. */
const durationBuckets = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** The agent's metrics: a MeterProvider with a Prometheus reader and an optional OTLP push. */
export class AgentMetrics {
  readonly #provider: MeterProvider;
  readonly #prometheus: PrometheusExporter;
  readonly #record: (call: ExportCall) => void;

  /**
   * Creates the instruments; nothing is read until a collection. The OTLP
   * exporter's modules (~3 MiB of the agent's memory) are loaded only when
   * the push is configured.
   */
  static async create(options: AgentMetricsOptions): Promise<AgentMetrics> {
    const push = options.otlp &&
      (await import("./_otlp_push.ts")).otlpPushReader(options.otlp);
    return new AgentMetrics(options, push);
  }

  private constructor(options: AgentMetricsOptions, push?: MetricReader) {
    this.#prometheus = new PrometheusExporter({ preventServerStart: true });
    const readers: MetricReader[] = [this.#prometheus];
    if (push) readers.push(push);
    this.#provider = new MeterProvider({
      resource: resourceFromAttributes(options.resource),
      readers,
    });
    const meter = this.#provider.getMeter("spanbridge");

    const duration = meter.createHistogram(
      "otel.sdk.exporter.operation.duration",
      {
        unit: "s",
        description: "Duration of one export request, retries included.",
        advice: { explicitBucketBoundaries: durationBuckets },
      },
    );
    this.#record = (call) =>
      duration.record(call.seconds, {
        "otel.component.type": call.component,
        ...(call.errorType && { "error.type": call.errorType }),
      });

    const counter = (name: string, unit: string, description: string) =>
      meter.createObservableCounter(name, { unit, description });
    const gauge = (name: string, unit: string, description: string) =>
      meter.createObservableUpDownCounter(name, { unit, description });
    const received = counter(
      "spanbridge.span.received",
      "{span}",
      "Spans read from the ring buffer and decoded.",
    );
    const sampledOut = counter(
      "spanbridge.span.sampled_out",
      "{span}",
      "Spans of traces that their process's --sample ratio drops (asked for, not lost).",
    );
    const spans = exportInstruments(counter, gauge, "span", "Spans");
    const logsReceived = counter(
      "spanbridge.log.received",
      "{log_record}",
      "Log records read from the ring buffer and decoded.",
    );
    const logs = exportInstruments(counter, gauge, "log", "Log records");
    const lost = counter(
      "spanbridge.record.lost",
      "{record}",
      "Records (whole batches) the kernel could not deliver: ring full, oversize, unreadable.",
    );
    const batchesLost = counter(
      "spanbridge.batch.lost",
      "{batch}",
      "Batches lost before they were read (in the kernel, or handed off while the probe was detached), counted per process from the SDK's batch sequence, by service.name (the first 50 services to lose batches, the rest as _other).",
    );
    const corrupt = counter(
      "spanbridge.record.corrupt",
      "{record}",
      "Records that were not a valid OTLP batch.",
    );
    const binaries = gauge(
      "spanbridge.binary.attached",
      "{binary}",
      "Binaries the probe is attached to.",
    );
    const processes = gauge(
      "spanbridge.process.traced",
      "{process}",
      "Processes found running a traced binary (or that sent spans), until they exit.",
    );
    meter.addBatchObservableCallback((result) => {
      const stats = options.stats();
      if (!stats) return;
      result.observe(received, stats.decode.spans);
      result.observe(sampledOut, stats.sampling?.sampledOut ?? 0);
      spans.observe(result, stats.export);
      result.observe(logsReceived, stats.decode.logRecords);
      logs.observe(result, stats.logExport);
      result.observe(lost, recordsLost(stats));
      // Bounded: the controller names at most 50 services, never removing
      // one, so every series only grows.
      for (
        const [service, n] of Object.entries(stats.batchLoss.lostByService)
      ) {
        result.observe(batchesLost, n, { "service.name": service });
      }
      result.observe(corrupt, stats.decode.corrupt);
      result.observe(binaries, stats.binaries);
      result.observe(processes, stats.processes);
    }, [
      received,
      sampledOut,
      ...spans.instruments,
      logsReceived,
      ...logs.instruments,
      lost,
      batchesLost,
      corrupt,
      binaries,
      processes,
    ]);
  }

  /** Records one finished export call (see ExportWatch). */
  recordExport(call: ExportCall): void {
    this.#record(call);
  }

  /** Collects now and renders the Prometheus text exposition format. */
  async prometheus(): Promise<string> {
    const { resourceMetrics, errors } = await this.#prometheus.collect();
    if (errors.length > 0) {
      throw new Error(
        `Cannot collect the agent's metrics: ${errors.map(String).join("; ")}`,
      );
    }
    return new PrometheusSerializer().serialize(resourceMetrics);
  }

  /** Pushes a last time over OTLP (when configured) and stops. */
  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}

type Counter = ObservableCounter | ObservableUpDownCounter;
type MakeInstrument = (
  name: string,
  unit: string,
  description: string,
) => Counter;

/**
 * The four export instruments of one signal, as the semantic conventions
 * name them (`otel.sdk.exporter.<signal>.exported` ...), and how they
 * observe that signal's export counters.
 */
function exportInstruments(
  counter: MakeInstrument,
  gauge: MakeInstrument,
  signal: "span" | "log",
  items: string,
): {
  instruments: Counter[];
  observe(result: BatchObservableResult, e: ExportCounters): void;
} {
  const unit = signal === "span" ? "{span}" : "{log_record}";
  const exported = counter(
    `otel.sdk.exporter.${signal}.exported`,
    unit,
    `${items} whose export finished; error.type says why it failed (${
      reasonsOf("exporter")
    }).`,
  );
  const processed = counter(
    `otel.sdk.processor.${signal}.processed`,
    unit,
    `${items} dropped before export, by error.type (${
      reasonsOf("processor")
    }).`,
  );
  const inflight = gauge(
    `otel.sdk.exporter.${signal}.inflight`,
    unit,
    `${items} in export requests not answered yet.`,
  );
  const queueSize = gauge(
    `otel.sdk.processor.${signal}.queue.size`,
    unit,
    `${items} waiting in the export queue.`,
  );
  return {
    instruments: [exported, processed, inflight, queueSize],
    observe(result, e) {
      result.observe(exported, e.exported);
      for (const { reason, stage } of DROP_REASONS) {
        result.observe(
          stage === "exporter" ? exported : processed,
          e.droppedBy[reason],
          { "error.type": reason },
        );
      }
      result.observe(inflight, e.inFlight);
      result.observe(queueSize, e.queued);
    },
  };
}

/** The drop reasons of one stage, as a list for a metric's description. */
function reasonsOf(stage: "processor" | "exporter"): string {
  return DROP_REASONS.filter((d) => d.stage === stage).map((d) => d.reason)
    .join(", ");
}
