package sdk

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// nonRecordingSpan carries a span context and records nothing: the span of
// a trace that is not sampled, or of any Start while no probe is attached.
type nonRecordingSpan struct {
	embedded.Span

	sc       trace.SpanContext
	provider *Provider
}

var _ trace.Span = (*nonRecordingSpan)(nil)

// SpanContext returns the span context the span carries.
func (s *nonRecordingSpan) SpanContext() trace.SpanContext { return s.sc }

// IsRecording returns false.
func (*nonRecordingSpan) IsRecording() bool { return false }

// TracerProvider returns the provider that made the span.
func (s *nonRecordingSpan) TracerProvider() trace.TracerProvider { return s.provider }

// End does nothing.
func (*nonRecordingSpan) End(...trace.SpanEndOption) {}

// AddEvent does nothing.
func (*nonRecordingSpan) AddEvent(string, ...trace.EventOption) {}

// AddLink does nothing.
func (*nonRecordingSpan) AddLink(trace.Link) {}

// RecordError does nothing.
func (*nonRecordingSpan) RecordError(error, ...trace.EventOption) {}

// SetStatus does nothing.
func (*nonRecordingSpan) SetStatus(codes.Code, string) {}

// SetName does nothing.
func (*nonRecordingSpan) SetName(string) {}

// SetAttributes does nothing.
func (*nonRecordingSpan) SetAttributes(...attribute.KeyValue) {}
