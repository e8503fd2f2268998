/**
 * The OTLP push of the agent's metrics, in a module of its own so that its
 * exporter packages are loaded only when the push is configured.
 *
 * @module
 */
import {
  type MetricReader,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  AggregationTemporalityPreference,
  OTLPMetricExporterBase,
} from "@opentelemetry/exporter-metrics-otlp-http";
import {
  JsonMetricsSerializer,
  MetricsExporterMetricsHelper,
  ProtobufMetricsSerializer,
} from "@opentelemetry/otlp-transformer";
import { createOtlpExportDelegate } from "../export/mod.ts";
import type { OtlpMetricsConfig } from "./config.ts";

/** A reader that pushes the metrics every `intervalMs` as `config` says. */
export function otlpPushReader(config: OtlpMetricsConfig): MetricReader {
  const { intervalMs } = config;
  return new PeriodicExportingMetricReader({
    exporter: otlpMetricExporter(config),
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: Math.min(intervalMs, 30_000),
  });
}

const temporalities = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

/**
 * OpenTelemetry JS's OTLP metric exporter on the export's transport:
 * `OTLPMetricExporter` would merge in the OTEL_* environment itself, so its
 * delegate comes from the validated settings alone.
 */
function otlpMetricExporter(config: OtlpMetricsConfig): OTLPMetricExporterBase {
  const delegate = createOtlpExportDelegate(config.transport, {
    serializer: config.transport.protocol === "http/json"
      ? JsonMetricsSerializer
      : ProtobufMetricsSerializer,
    items: MetricsExporterMetricsHelper,
  });
  // The exporter package pins otlp-exporter-base 0.301.0 and we import
  // 0.301.1: the same delegate, declared twice (a private field differs).
  type Delegate = ConstructorParameters<typeof OTLPMetricExporterBase>[0];
  return new OTLPMetricExporterBase(delegate as unknown as Delegate, {
    temporalityPreference: temporalities[config.temporality],
  });
}
