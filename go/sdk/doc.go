// Package sdk implements the OpenTelemetry Go trace API and Logs API for
// programs traced by the spanbridge controller.
//
// Instead of exporting, the SDK encodes ended spans as OTLP protobuf
// TracesData batches and hands each batch to a no-op assembly function on
// which the controller's eBPF uprobe sits (see package internal/handoff for
// the probe contract). Batches are bounded by a span count, a byte size (the
// probe's largest record, 256 KiB by default) and a delay.
//
// When no probe is attached the SDK records nothing: Start returns
// non-recording spans that carry the parent's span context, at a cost close
// to the no-op tracer. The SDK sees the probe by reading the first
// instruction of the probe point, refreshed in the background every 100 ms.
//
// Use the process-wide provider directly or through the otel package:
//
//	otel.SetTracerProvider(sdk.TracerProvider())
//	defer sdk.Shutdown(context.Background())
//
// Log records go the same way, in LogsData batches of their own (batch
// header signal 2), each with the trace and span ID of the span in the
// context it was emitted with; LoggerProvider is what the OpenTelemetry log
// bridges take, e.g. for log/slog:
//
//	slog.New(otelslog.NewHandler("my/pkg", otelslog.WithLoggerProvider(sdk.LoggerProvider())))
//
// Configuration comes from the standard OpenTelemetry environment variables
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_SCHEDULE_DELAY,
// OTEL_BSP_MAX_EXPORT_BATCH_SIZE, the OTEL_SPAN_*, OTEL_EVENT_*, OTEL_LINK_*
// and OTEL_ATTRIBUTE_* limits, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES;
// for logs OTEL_BLRP_* and OTEL_LOGRECORD_ATTRIBUTE_*) and
// SPANBRIDGE_MAX_BATCH_BYTES; the options of NewTracerProvider and
// NewLoggerProvider override it.
package sdk
