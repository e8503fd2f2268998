package main

import (
	"context"
	"encoding/base64"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
)

// recorder makes spans through the SDK and writes down what each must look
// like when it arrives. Times are milliseconds after base.
type recorder struct {
	base time.Time

	mu     sync.Mutex
	spans  []*spanRecord
	bySpan map[trace.Span]*spanRecord
	scopes map[trace.Tracer]scopeRecord
}

type record struct {
	Resource      map[string]string `json:"resource"`
	Spans         []*spanRecord     `json:"spans"`
	MustNotArrive []missingRecord   `json:"mustNotArrive"`
}

type spanRecord struct {
	Name                   string        `json:"name"`
	TraceID                string        `json:"traceId"`
	SpanID                 string        `json:"spanId"`
	ParentSpanID           string        `json:"parentSpanId"`
	TraceState             string        `json:"traceState"`
	Flags                  uint32        `json:"flags"`
	Kind                   int           `json:"kind"`
	Scope                  scopeRecord   `json:"scope"`
	StartTimeUnixNano      string        `json:"startTimeUnixNano"`
	EndTimeUnixNano        string        `json:"endTimeUnixNano"`
	Attributes             []keyValue    `json:"attributes"`
	DroppedAttributesCount int           `json:"droppedAttributesCount"`
	Events                 []eventRecord `json:"events"`
	DroppedEventsCount     int           `json:"droppedEventsCount"`
	Links                  []linkRecord  `json:"links"`
	DroppedLinksCount      int           `json:"droppedLinksCount"`
	Status                 statusRecord  `json:"status"`
	sampled                bool
	end                    time.Time
	status                 codes.Code
}

type scopeRecord struct {
	Name       string     `json:"name"`
	Version    string     `json:"version"`
	SchemaURL  string     `json:"schemaUrl"`
	Attributes []keyValue `json:"attributes"`
}

type eventRecord struct {
	Name                   string     `json:"name"`
	TimeUnixNano           string     `json:"timeUnixNano"`
	Attributes             []keyValue `json:"attributes"`
	DroppedAttributesCount int        `json:"droppedAttributesCount"`
	PresentKeys            []string   `json:"presentKeys"`
}

type linkRecord struct {
	TraceID                string     `json:"traceId"`
	SpanID                 string     `json:"spanId"`
	TraceState             string     `json:"traceState"`
	Flags                  uint32     `json:"flags"`
	Attributes             []keyValue `json:"attributes"`
	DroppedAttributesCount int        `json:"droppedAttributesCount"`
}

type statusRecord struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type missingRecord struct {
	Name    string `json:"name"`
	TraceID string `json:"traceId"`
	SpanID  string `json:"spanId"`
}

type keyValue struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
}

// OTLP Span.flags bits above the W3C trace flags: whether the parent is
// remote is known, and it is.
const (
	flagsHasIsRemote = 0x100
	flagsIsRemote    = 0x200
)

func newRecorder(base time.Time) *recorder {
	return &recorder{base: base, bySpan: map[trace.Span]*spanRecord{}, scopes: map[trace.Tracer]scopeRecord{}}
}

func (r *recorder) at(ms int) time.Time { return r.base.Add(time.Duration(ms) * time.Millisecond) }

func (r *recorder) nanos(ms int) string { return strconv.FormatInt(r.at(ms).UnixNano(), 10) }

// tracer returns the process-wide provider's tracer and notes its scope.
func (r *recorder) tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	tr := sdk.TracerProvider().Tracer(name, opts...)
	c := trace.NewTracerConfig(opts...)
	set := c.InstrumentationAttributes()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scopes[tr] = scopeRecord{Name: name, Version: c.InstrumentationVersion(), SchemaURL: c.SchemaURL(), Attributes: keyValues(set.ToSlice())}
	return tr
}

type startOpts struct {
	kind    trace.SpanKind
	attrs   []attribute.KeyValue
	links   []trace.Link
	newRoot bool
}

// start starts a span at startMs that end will end at endMs.
func (r *recorder) start(tr trace.Tracer, ctx context.Context, name string, startMs, endMs int, o startOpts) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{trace.WithTimestamp(r.at(startMs)), trace.WithAttributes(o.attrs...), trace.WithLinks(o.links...)}
	if o.kind != trace.SpanKindUnspecified {
		opts = append(opts, trace.WithSpanKind(o.kind))
	}
	if o.newRoot {
		opts = append(opts, trace.WithNewRoot())
	}
	parent := trace.SpanContextFromContext(ctx)
	ctx, s := tr.Start(ctx, name, opts...)

	sc := s.SpanContext()
	rec := &spanRecord{
		Name: name, TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(),
		TraceState: sc.TraceState().String(), Flags: uint32(sc.TraceFlags()) | flagsHasIsRemote, Kind: int(trace.ValidateSpanKind(o.kind)),
		StartTimeUnixNano: r.nanos(startMs), EndTimeUnixNano: r.nanos(endMs),
		Attributes: keyValues(o.attrs), Events: []eventRecord{}, Links: []linkRecord{},
		sampled: sc.IsSampled(), end: r.at(endMs),
	}
	if !o.newRoot && parent.IsValid() {
		rec.ParentSpanID = parent.SpanID().String()
		if parent.IsRemote() {
			rec.Flags |= flagsIsRemote
		}
	}
	for _, l := range o.links {
		rec.Links = append(rec.Links, linkOf(l))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.Scope = r.scopes[tr]
	r.spans = append(r.spans, rec)
	r.bySpan[s] = rec
	return ctx, s
}

func (r *recorder) rec(s trace.Span) *spanRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bySpan[s]
}

func (r *recorder) end(s trace.Span) { s.End(trace.WithTimestamp(r.rec(s).end)) }

func (r *recorder) setName(s trace.Span, name string) {
	s.SetName(name)
	r.rec(s).Name = name
}

func (r *recorder) setAttributes(s trace.Span, kvs ...attribute.KeyValue) {
	s.SetAttributes(kvs...)
	rec := r.rec(s)
	rec.Attributes = append(rec.Attributes, keyValues(kvs)...)
}

// setStatus sets the status and notes it by the API's rules: Ok is final,
// the description stays only with Error.
func (r *recorder) setStatus(s trace.Span, code codes.Code, desc string) {
	s.SetStatus(code, desc)
	rec := r.rec(s)
	if code == codes.Unset || code < rec.status {
		return
	}
	rec.status = code
	switch code {
	case codes.Ok:
		rec.Status = statusRecord{Code: 1}
	case codes.Error:
		rec.Status = statusRecord{Code: 2, Message: desc}
	}
}

func (r *recorder) event(s trace.Span, name string, ms int, attrs ...attribute.KeyValue) {
	s.AddEvent(name, trace.WithTimestamp(r.at(ms)), trace.WithAttributes(attrs...))
	rec := r.rec(s)
	rec.Events = append(rec.Events, eventRecord{Name: name, TimeUnixNano: r.nanos(ms), Attributes: keyValues(attrs), PresentKeys: []string{}})
}

func (r *recorder) stackEvent(s trace.Span, name string, ms int) {
	s.AddEvent(name, trace.WithTimestamp(r.at(ms)), trace.WithStackTrace(true))
	rec := r.rec(s)
	rec.Events = append(rec.Events, eventRecord{Name: name, TimeUnixNano: r.nanos(ms), Attributes: []keyValue{},
		PresentKeys: []string{string(semconv.CodeStacktraceKey)}})
}

// recordError records err, whose exception.type the SDK names typ.
func (r *recorder) recordError(s trace.Span, ms int, err error, typ string, stack bool) {
	s.RecordError(err, trace.WithTimestamp(r.at(ms)), trace.WithStackTrace(stack))
	e := eventRecord{Name: semconv.ExceptionEventName, TimeUnixNano: r.nanos(ms), PresentKeys: []string{},
		Attributes: keyValues([]attribute.KeyValue{semconv.ExceptionType(typ), semconv.ExceptionMessage(err.Error())})}
	if stack {
		e.PresentKeys = []string{string(semconv.ExceptionStacktraceKey)}
	}
	rec := r.rec(s)
	rec.Events = append(rec.Events, e)
}

// endPanicking returns the End options of a span ended by a deferred End
// during a panic with value v, and notes the exception event End records.
func (r *recorder) endPanicking(s trace.Span, v string) []trace.SpanEndOption {
	rec := r.rec(s)
	rec.Events = append(rec.Events, eventRecord{Name: semconv.ExceptionEventName, TimeUnixNano: rec.EndTimeUnixNano,
		Attributes:  keyValues([]attribute.KeyValue{semconv.ExceptionType("string"), semconv.ExceptionMessage(v)}),
		PresentKeys: []string{string(semconv.ExceptionStacktraceKey)}})
	return []trace.SpanEndOption{trace.WithTimestamp(rec.end), trace.WithStackTrace(true)}
}

func (r *recorder) addLink(s trace.Span, l trace.Link) {
	s.AddLink(l)
	rec := r.rec(s)
	rec.Links = append(rec.Links, linkOf(l))
}

// expectDropped notes that the SDK drops the attribute key to fit the span
// into its size bound.
func (r *recorder) expectDropped(s trace.Span, key attribute.Key) {
	rec := r.rec(s)
	kept := rec.Attributes[:0]
	for _, kv := range rec.Attributes {
		if kv.Key != string(key) {
			kept = append(kept, kv)
		}
	}
	rec.Attributes = kept
	rec.DroppedAttributesCount++
}

// record returns what must and must not arrive.
func (r *recorder) record() record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := record{
		Resource: map[string]string{
			"telemetry.sdk.name":     "spanbridge",
			"telemetry.sdk.language": "go",
		},
		Spans:         []*spanRecord{},
		MustNotArrive: []missingRecord{},
	}
	if name := os.Getenv("OTEL_SERVICE_NAME"); name != "" {
		out.Resource["service.name"] = name
	}
	for _, s := range r.spans {
		if s.sampled {
			out.Spans = append(out.Spans, s)
		} else {
			out.MustNotArrive = append(out.MustNotArrive, missingRecord{Name: s.Name, TraceID: s.TraceID, SpanID: s.SpanID})
		}
	}
	return out
}

func linkOf(l trace.Link) linkRecord {
	flags := uint32(l.SpanContext.TraceFlags()) | 0x100
	if l.SpanContext.IsRemote() {
		flags |= 0x200
	}
	return linkRecord{
		TraceID: l.SpanContext.TraceID().String(), SpanID: l.SpanContext.SpanID().String(),
		TraceState: l.SpanContext.TraceState().String(), Flags: flags, Attributes: keyValues(l.Attributes),
	}
}

func keyValues(kvs []attribute.KeyValue) []keyValue {
	out := []keyValue{}
	for _, kv := range kvs {
		out = append(out, keyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

// anyValue returns v in the OTLP/JSON AnyValue form.
func anyValue(v attribute.Value) map[string]any {
	array := func(vs []attribute.Value) map[string]any {
		values := []map[string]any{}
		for _, e := range vs {
			values = append(values, anyValue(e))
		}
		return map[string]any{"arrayValue": map[string]any{"values": values}}
	}
	switch v.Type() {
	case attribute.BOOL:
		return map[string]any{"boolValue": v.AsBool()}
	case attribute.INT64:
		return map[string]any{"intValue": strconv.FormatInt(v.AsInt64(), 10)}
	case attribute.FLOAT64:
		return map[string]any{"doubleValue": v.AsFloat64()}
	case attribute.STRING:
		return map[string]any{"stringValue": v.AsString()}
	case attribute.BYTESLICE:
		return map[string]any{"bytesValue": base64.StdEncoding.EncodeToString(v.AsByteSlice())}
	case attribute.BOOLSLICE:
		return array(values(v.AsBoolSlice(), attribute.BoolValue))
	case attribute.INT64SLICE:
		return array(values(v.AsInt64Slice(), attribute.Int64Value))
	case attribute.FLOAT64SLICE:
		return array(values(v.AsFloat64Slice(), attribute.Float64Value))
	case attribute.STRINGSLICE:
		return array(values(v.AsStringSlice(), attribute.StringValue))
	case attribute.SLICE:
		return array(v.AsSlice())
	case attribute.MAP:
		return map[string]any{"kvlistValue": map[string]any{"values": keyValues(v.AsMap())}}
	}
	return map[string]any{}
}

func values[T any](vs []T, f func(T) attribute.Value) []attribute.Value {
	out := make([]attribute.Value, len(vs))
	for i, v := range vs {
		out[i] = f(v)
	}
	return out
}
