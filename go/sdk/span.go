package sdk

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// spanData is what an ended span exports.
type spanData struct {
	sc     trace.SpanContext
	parent trace.SpanContext
	kind   trace.SpanKind
	name   string
	start  int64 // unix nanoseconds
	end    int64 // unix nanoseconds

	attrs         []attribute.KeyValue
	droppedAttrs  int
	events        []event
	droppedEvents int
	links         []link
	droppedLinks  int
	status        codes.Code
	statusDesc    string
}

// event is a span event.
type event struct {
	name    string
	time    int64 // unix nanoseconds
	attrs   []attribute.KeyValue
	dropped int
}

// link is a link to another span.
type link struct {
	sc      trace.SpanContext
	attrs   []attribute.KeyValue
	dropped int
}

// span is a recording span. Its methods are safe for concurrent use; after
// End they do nothing.
type span struct {
	embedded.Span

	tracer    *tracer
	startTime time.Time // keeps the monotonic reading for the end time

	// ended is written under mu; IsRecording reads it without.
	ended atomic.Bool
	mu    sync.Mutex
	data  spanData
	// firstEvent backs data.events until a second event comes: most spans
	// have at most one, and this saves an allocation.
	firstEvent [1]event
}

var _ trace.Span = (*span)(nil)

// SpanContext returns the span's identity.
func (s *span) SpanContext() trace.SpanContext { return s.data.sc }

// IsRecording reports whether the span has not ended yet.
func (s *span) IsRecording() bool { return !s.ended.Load() }

// TracerProvider returns the provider that made the span.
func (s *span) TracerProvider() trace.TracerProvider { return s.tracer.provider }

// SetName replaces the span's name.
func (s *span) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended.Load() {
		s.data.name = name
	}
}

// SetStatus sets the status: Error (with description) overrides Unset and
// Error, Ok overrides everything and is final, Unset changes nothing. The
// description is kept only for Error.
func (s *span) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// codes orders Unset < Error < Ok.
	if s.ended.Load() || code < s.data.status || code == codes.Unset {
		return
	}
	s.data.status = code
	s.data.statusDesc = ""
	if code == codes.Error {
		s.data.statusDesc = description
	}
}

// SetAttributes sets attributes, replacing the values of keys already set.
func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	if len(kv) == 0 {
		return
	}
	lim := &s.tracer.provider.cfg.limits
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return
	}
	var dropped int
	s.data.attrs, dropped = addAttrs(s.data.attrs, kv, lim.AttributeCountLimit, lim.AttributeValueLengthLimit)
	s.data.droppedAttrs += dropped
}

// AddEvent adds an event. The options WithTimestamp, WithAttributes and
// WithStackTrace apply; a stack trace goes into the code.stacktrace
// attribute.
func (s *span) AddEvent(name string, options ...trace.EventOption) {
	if !s.IsRecording() {
		return
	}
	cfg := trace.NewEventConfig(options...)
	attrs := cfg.Attributes()
	if cfg.StackTrace() {
		attrs = append(attrs, semconv.CodeStacktraceKey.String(stackTrace()))
	}
	s.addEvent(name, cfg.Timestamp(), attrs)
}

// RecordError adds an exception event for err with its type, message and,
// with WithStackTrace(true), the stack trace. It does not change the
// status. A nil err is ignored.
func (s *span) RecordError(err error, options ...trace.EventOption) {
	if err == nil || !s.IsRecording() {
		return
	}
	cfg := trace.NewEventConfig(options...)
	attrs := append(cfg.Attributes(),
		semconv.ExceptionTypeKey.String(typeName(err)),
		semconv.ExceptionMessageKey.String(err.Error()),
	)
	if cfg.StackTrace() {
		attrs = append(attrs, semconv.ExceptionStacktraceKey.String(stackTrace()))
	}
	s.addEvent(semconv.ExceptionEventName, cfg.Timestamp(), attrs)
}

// addEvent adds an event whose attrs slice the span may keep.
func (s *span) addEvent(name string, t time.Time, attrs []attribute.KeyValue) {
	lim := &s.tracer.provider.cfg.limits
	e := event{name: name, time: t.UnixNano()}
	e.attrs, e.dropped = addAttrs(attrs[:0], attrs, lim.AttributePerEventCountLimit, lim.AttributeValueLengthLimit)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return
	}
	s.data.events, s.data.droppedEvents = addEvicting(s.data.events, s.data.droppedEvents, e, lim.EventCountLimit)
}

// AddLink adds a link to another span. A link with neither a valid span
// context nor attributes is ignored.
func (s *span) AddLink(l trace.Link) {
	if !l.SpanContext.IsValid() && len(l.Attributes) == 0 {
		return
	}
	nl := s.tracer.provider.newLink(l)
	lim := &s.tracer.provider.cfg.limits
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return
	}
	s.data.links, s.data.droppedLinks = addEvicting(s.data.links, s.data.droppedLinks, nl, lim.LinkCountLimit)
}

// End ends the span and queues it for the probe. WithTimestamp sets the end
// time; otherwise it is the start time plus the monotonic time elapsed.
// Deferred during a panic, End records the panic as an exception event at
// the end time (with a stack trace under WithStackTrace(true)) and lets it go
// on, as the OpenTelemetry SDK does.
func (s *span) End(options ...trace.SpanEndOption) {
	var cfg trace.SpanConfig
	if len(options) > 0 {
		cfg = trace.NewSpanEndConfig(options...)
	}
	end := cfg.Timestamp()
	if end.IsZero() {
		end = s.startTime.Add(time.Since(s.startTime))
	}
	if recovered := recover(); recovered != nil {
		defer panic(recovered)
		s.recordPanic(recovered, end, cfg.StackTrace())
	}
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return
	}
	s.ended.Store(true)
	s.data.end = end.UnixNano()
	s.mu.Unlock()
	if s.tracer.provider.stopped.Load() {
		return
	}
	// Ended: nothing writes s.data any more.
	s.tracer.batch.add(&s.data)
}

// recordPanic adds the exception event of a panic with value v.
func (s *span) recordPanic(v any, at time.Time, withStack bool) {
	if !s.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		semconv.ExceptionTypeKey.String(typeName(v)),
		semconv.ExceptionMessageKey.String(fmt.Sprint(v)),
	}
	if withStack {
		attrs = append(attrs, semconv.ExceptionStacktraceKey.String(stackTrace()))
	}
	s.addEvent(semconv.ExceptionEventName, at, attrs)
}

// addEvicting appends v to vs under limit (negative: none), dropping the
// oldest element when vs is full, and counts what it drops.
func addEvicting[T any](vs []T, dropped int, v T, limit int) ([]T, int) {
	switch {
	case limit == 0:
		return vs, dropped + 1
	case limit > 0 && len(vs) >= limit:
		copy(vs, vs[1:])
		vs[len(vs)-1] = v
		return vs, dropped + 1
	}
	return append(vs, v), dropped
}

// typeName names v's type as exception.type wants it: the package path and
// name of a named type, else the type's Go syntax (e.g.
// "*errors.errorString").
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Name() == "" || t.PkgPath() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// stackTrace returns the calling goroutine's stack trace.
func stackTrace() string {
	buf := make([]byte, 4096)
	for {
		n := runtime.Stack(buf, false)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
