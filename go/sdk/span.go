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
	sc        trace.SpanContext
	startTime time.Time // keeps the monotonic reading for the end time
	mu        sync.Mutex
	// st is what the span records, nil once it ended. It is written under
	// mu; IsRecording reads it without. Only the handle is allocated per
	// span: the state goes back to a pool at End, as a trace.Span (and the
	// contexts holding it) must stay valid after End, but its data need not.
	st atomic.Pointer[spanState]
}

// spanState is the recording part of a span, pooled.
type spanState struct {
	data spanData
	// firstEvent backs data.events until a second event comes: most spans
	// have at most one, and this saves an allocation.
	firstEvent [1]event
	// reported holds the dropKinds already reported for this span.
	reported dropKind
}

// states holds spanStates for reuse.
var states = sync.Pool{New: func() any { return new(spanState) }}

// newState returns an empty spanState.
func newState() *spanState {
	st := states.Get().(*spanState)
	st.data.events = st.firstEvent[:0]
	return st
}

// release empties st, which nothing refers to any more, and pools it.
func release(st *spanState) {
	*st = spanState{}
	states.Put(st)
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

// note returns the kinds of drops in k not reported yet for the span and
// marks them reported. The span's mu must be held, or the span not yet
// shared.
func (st *spanState) note(k dropKind) dropKind {
	k &^= st.reported
	st.reported |= k
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
func (s *span) SpanContext() trace.SpanContext { return s.sc }

// IsRecording reports whether the span has not ended yet.
func (s *span) IsRecording() bool { return s.st.Load() != nil }

// TracerProvider returns the provider that made the span.
func (s *span) TracerProvider() trace.TracerProvider { return s.tracer.provider }

// SetName replaces the span's name.
func (s *span) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.st.Load(); st != nil {
		st.data.name = name
	}
}

// SetStatus sets the status: Error (with description) overrides Unset and
// Error, Ok overrides everything and is final, Unset changes nothing. The
// description is kept only for Error.
func (s *span) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st.Load()
	// codes orders Unset < Error < Ok.
	if st == nil || code < st.data.status || code == codes.Unset {
		return
	}
	st.data.status = code
	st.data.statusDesc = ""
	if code == codes.Error {
		st.data.statusDesc = description
	}
}

// SetAttributes sets attributes, replacing the values of keys already set.
func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	if len(kv) == 0 {
		return
	}
	lim := &s.tracer.provider.cfg.limits
	s.mu.Lock()
	st := s.st.Load()
	if st == nil {
		s.mu.Unlock()
		return
	}
	var dropped int
	st.data.attrs, dropped = addAttrs(st.data.attrs, kv, lim.AttributeCountLimit, lim)
	st.data.droppedAttrs += dropped
	var report dropKind
	if dropped > 0 {
		report = st.note(dropAttrs)
	}
	name := st.data.name
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
	st := s.st.Load()
	if st == nil {
		s.mu.Unlock()
		return
	}
	before := st.data.droppedEvents
	st.data.events, st.data.droppedEvents = addEvicting(st.data.events, st.data.droppedEvents, e, lim.EventCountLimit)
	var report dropKind
	if st.data.droppedEvents > before {
		report |= st.note(dropEvents)
	}
	if e.dropped > 0 {
		report |= st.note(dropEventAttrs)
	}
	spanName := st.data.name
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
	st := s.st.Load()
	if st == nil {
		s.mu.Unlock()
		return
	}
	before := st.data.droppedLinks
	st.data.links, st.data.droppedLinks = addEvicting(st.data.links, st.data.droppedLinks, nl, lim.LinkCountLimit)
	var report dropKind
	if st.data.droppedLinks > before {
		report |= st.note(dropLinks)
	}
	if nl.dropped > 0 {
		report |= st.note(dropLinkAttrs)
	}
	name := st.data.name
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
	st := s.st.Load()
	if st == nil {
		s.mu.Unlock()
		return
	}
	s.st.Store(nil)
	st.data.end = end.UnixNano()
	s.mu.Unlock()
	// Ended: nothing else refers to st any more. A RecordOnly span records
	// for its own calls but is not exported.
	if !s.tracer.provider.stopped.Load() && s.sc.IsSampled() {
		s.tracer.batch.add(&st.data)
	}
	release(st)
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
