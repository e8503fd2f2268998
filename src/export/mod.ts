/**
 * Span export: per-process resources, OTEL_* configuration, a bounded
 * batching queue, and the OTLP/HTTP and console exporters.
 * {@linkcode createSinkFromEnv} is what the controller uses.
 *
 * @module
 */

export * from "./config.ts";
export * from "./console_exporter.ts";
export * from "./exporter.ts";
export * from "./otlp_exporter.ts";
export * from "./queue.ts";
export * from "./resource.ts";
export * from "./sink.ts";
