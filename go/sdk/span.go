package sdk

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// spanData is what an ended span exports.
type spanData struct {
	sc trace.SpanContext
	// parentID is the parent's span ID (invalid for a root) and
	// parentRemote whether it came from another process: all a span
	// exports of its parent, kept small as every span carries them.
	parentID     trace.SpanID
	parentRemote bool
	kind         trace.SpanKind
	name         string
	start        int64 // unix nanoseconds
	end          int64 // unix nanoseconds

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
	// reported holds the dropKinds already reported for this span.
	reported dropKind
}

// dropKind names what a limit dropped, for the once-per-span report.
type dropKind uint8

const (
	dropAttrs dropKind = 1 << iota
	dropEvents
	dropLinks
	dropEventAttrs
	dropLinkAttrs
)

// note returns the kinds of drops in k not reported yet for s and marks them
// reported. s.mu must be held, or s not yet shared.
func (s *span) note(k dropKind) dropKind {
	k &^= s.reported
	s.reported |= k
	return k
}

// reportDrops tells the OpenTelemetry error handler, once per span and
// kind, that a limit dropped something (spec, trace SDK, Span Limits: "log
// a message ... once per span"); the exported dropped counts say how much.
// name is the span's name, read under s.mu.
func (s *span) reportDrops(k dropKind, name string) {
	if k == 0 {
		return
	}
	lim := &s.tracer.provider.cfg.limits
	for _, d := range [...]struct {
		kind  dropKind
		what  string
		limit int
	}{
		{dropAttrs, "span attributes", lim.AttributeCountLimit},
		{dropEvents, "events", lim.EventCountLimit},
		{dropLinks, "links", lim.LinkCountLimit},
		{dropEventAttrs, "event attributes", lim.AttributePerEventCountLimit},
		{dropLinkAttrs, "link attributes", lim.AttributePerLinkCountLimit},
	} {
		if k&d.kind != 0 {
			otel.Handle(fmt.Errorf("spanbridge: span %q: limit reached, dropping %s (limit %d, or invalid); counted in the span's dropped counts",
				truncateString(name, 64), d.what, d.limit))
		}
	}
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
	if s.ended.Load() {
		s.mu.Unlock()
		return
	}
	var dropped int
	s.data.attrs, dropped = addAttrs(s.data.attrs, kv, lim.AttributeCountLimit, lim)
	s.data.droppedAttrs += dropped
	var report dropKind
	if dropped > 0 {
		report = s.note(dropAttrs)
	}
	name := s.data.name
	s.mu.Unlock()
	s.reportDrops(report, name)
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
// with WithStackTrace(true), the stack trace; attributes given with
// WithAttributes take precedence over these (spec, trace API, Record
// Exception). It does not change the status. A nil err is ignored.
func (s *span) RecordError(err error, options ...trace.EventOption) {
	if err == nil || !s.IsRecording() {
		return
	}
	cfg := trace.NewEventConfig(options...)
	given := cfg.Attributes()
	attrs := make([]attribute.KeyValue, 0, 3+len(given))
	attrs = append(attrs,
		semconv.ExceptionTypeKey.String(typeName(err)),
		semconv.ExceptionMessageKey.String(err.Error()),
	)
	if cfg.StackTrace() {
		attrs = append(attrs, semconv.ExceptionStacktraceKey.String(stackTrace()))
	}
	// addAttrs keeps the last value of a key: the caller's.
	s.addEvent(semconv.ExceptionEventName, cfg.Timestamp(), append(attrs, given...))
}

// addEvent adds an event whose attrs slice the span may keep.
func (s *span) addEvent(name string, t time.Time, attrs []attribute.KeyValue) {
	lim := &s.tracer.provider.cfg.limits
	e := event{name: name, time: t.UnixNano()}
	e.attrs, e.dropped = addAttrs(attrs[:0], attrs, lim.AttributePerEventCountLimit, lim)

	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return
	}
	before := s.data.droppedEvents
	s.data.events, s.data.droppedEvents = addEvicting(s.data.events, s.data.droppedEvents, e, lim.EventCountLimit)
	var report dropKind
	if s.data.droppedEvents > before {
		report |= s.note(dropEvents)
	}
	if e.dropped > 0 {
		report |= s.note(dropEventAttrs)
	}
	spanName := s.data.name
	s.mu.Unlock()
	s.reportDrops(report, spanName)
}

// keepLink reports whether a link is recorded: one with an invalid span
// context is kept when it carries attributes or a TraceState (spec, trace
// API, Link).
func keepLink(l trace.Link) bool {
	return l.SpanContext.IsValid() || len(l.Attributes) > 0 || l.SpanContext.TraceState().Len() > 0
}

// AddLink adds a link to another span. A link with an invalid span context,
// no attributes and no TraceState is ignored.
func (s *span) AddLink(l trace.Link) {
	if !keepLink(l) {
		return
	}
	nl := s.tracer.provider.newLink(l)
	lim := &s.tracer.provider.cfg.limits
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return
	}
	before := s.data.droppedLinks
	s.data.links, s.data.droppedLinks = addEvicting(s.data.links, s.data.droppedLinks, nl, lim.LinkCountLimit)
	var report dropKind
	if s.data.droppedLinks > before {
		report |= s.note(dropLinks)
	}
	if nl.dropped > 0 {
		report |= s.note(dropLinkAttrs)
	}
	name := s.data.name
	s.mu.Unlock()
	s.reportDrops(report, name)
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
	// A RecordOnly span records for its own calls but is not exported.
	if s.tracer.provider.stopped.Load() || !s.data.sc.IsSampled() {
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
