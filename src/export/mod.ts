/**
 * Span export: per-process resources, OTEL_* configuration, a bounded
 * batching queue, the OTLP transport every signal shares, and the OTLP and
 * console span exporters. The CLI reads the configuration once
 * ({@linkcode readExportConfig}) and hands it to {@linkcode createSink},
 * whose sink the controller fills.
 *
 * @module
 */

export * from "./config.ts";
export * from "./console_exporter.ts";
export * from "./exporter.ts";
export * from "./otlp_exporter.ts";
export * from "./otlp_transport.ts";
export * from "./queue.ts";
export * from "./resource.ts";
export * from "./sink.ts";
