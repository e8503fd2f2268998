package sdk

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func TestSpanStartOptions(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	start := time.Unix(1700000000, 123456789)
	end := start.Add(1500 * time.Millisecond)
	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	_, s := tr.Start(context.Background(), "op",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(attribute.String("a", "b"), attribute.Int("n", 7)),
		trace.WithLinks(trace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.Bool("l", true)}}),
	)
	if !s.IsRecording() {
		t.Fatal("span is not recording while attached")
	}
	s.End(trace.WithTimestamp(end))
	if s.IsRecording() {
		t.Error("span still recording after End")
	}
	got := only(t, p, r)
	if got.name != "op" || got.kind != 2 {
		t.Errorf("name %q kind %d, want op 2", got.name, got.kind)
	}
	if got.start != uint64(start.UnixNano()) || got.end != uint64(end.UnixNano()) {
		t.Errorf("times %d-%d, want %d-%d", got.start, got.end, start.UnixNano(), end.UnixNano())
	}
	if m := attrMap(got.attrs); m["a"] != "b" || m["n"] != int64(7) || len(m) != 2 {
		t.Errorf("attributes %v", m)
	}
	if ltid := linked.TraceID(); len(got.links) != 1 || !bytes.Equal(got.links[0].traceID, ltid[:]) {
		t.Fatalf("links %+v", got.links)
	}
	if l := got.links[0]; !bytes.Equal(l.spanID, []byte{2, 0, 0, 0, 0, 0, 0, 0}) || l.flags != 0x301 || attrMap(l.attrs)["l"] != true {
		t.Errorf("link %+v", l)
	}
	// 0x2: the W3C random flag of a root span with random IDs.
	if len(got.parentSpanID) != 0 || got.flags != 0x103 {
		t.Errorf("root span parent %x flags %#x, want none and 0x103", got.parentSpanID, got.flags)
	}
	sc := s.SpanContext()
	if tid := sc.TraceID(); !bytes.Equal(got.traceID, tid[:]) {
		t.Errorf("trace ID %x, want %x", got.traceID, tid)
	}
	if sid := sc.SpanID(); !bytes.Equal(got.spanID, sid[:]) {
		t.Errorf("span ID %x, want %x", got.spanID, sid)
	}
}

func TestSpanKindDefaultsToInternal(t *testing.T) {
	p, r := newTestProvider(t)
	kinds := []trace.SpanKind{trace.SpanKindUnspecified, trace.SpanKindInternal, trace.SpanKindServer,
		trace.SpanKindClient, trace.SpanKindProducer, trace.SpanKindConsumer}
	for _, k := range kinds {
		_, s := p.Tracer("k").Start(context.Background(), k.String(), trace.WithSpanKind(k))
		s.End()
	}
	_, s := p.Tracer("k").Start(context.Background(), "none")
	s.End()
	p.Flush()
	want := []uint64{1, 1, 2, 3, 4, 5, 1}
	spans := r.spans(t)
	if len(spans) != len(want) {
		t.Fatalf("got %d spans", len(spans))
	}
	for i, s := range spans {
		if s.kind != want[i] {
			t.Errorf("span %q kind %d, want %d", s.name, s.kind, want[i])
		}
	}
}

func TestSpanParentFromContext(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	ctx, parent := tr.Start(context.Background(), "parent")
	_, child := tr.Start(ctx, "child")
	_, root := tr.Start(ctx, "root", trace.WithNewRoot())

	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xaa, 1}, SpanID: trace.SpanID{0xbb, 2}, TraceFlags: trace.FlagsSampled, Remote: true,
		TraceState: must1(trace.ParseTraceState("vendor=value")),
	})
	_, remoteChild := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "remote child")
	for _, s := range []trace.Span{child, root, remoteChild, parent} {
		s.End()
	}
	p.Flush()
	spans := r.spans(t)
	by := map[string]otlpSpan{}
	for _, s := range spans {
		by[s.name] = s
	}
	psc := parent.SpanContext()
	if c := by["child"]; !bytes.Equal(c.traceID, by["parent"].traceID) || !bytes.Equal(c.parentSpanID, by["parent"].spanID) || c.flags != 0x103 {
		t.Errorf("child %x/%x flags %#x, want parent %s/%s local", c.traceID, c.parentSpanID, c.flags, psc.TraceID(), psc.SpanID())
	}
	if r := by["root"]; bytes.Equal(r.traceID, by["parent"].traceID) || len(r.parentSpanID) != 0 {
		t.Errorf("WithNewRoot span kept the parent: %x/%x", r.traceID, r.parentSpanID)
	}
	rc := by["remote child"]
	if tid, sid := remote.TraceID(), remote.SpanID(); !bytes.Equal(rc.traceID, tid[:]) || !bytes.Equal(rc.parentSpanID, sid[:]) {
		t.Errorf("remote child %x/%x", rc.traceID, rc.parentSpanID)
	}
	if rc.flags != 0x301 || rc.traceState != "vendor=value" {
		t.Errorf("remote child flags %#x state %q, want 0x301 vendor=value", rc.flags, rc.traceState)
	}
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSpanEventsAndErrors(t *testing.T) {
	p, r := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), "op")
	at := time.Unix(1700000001, 5)
	s.AddEvent("plain")
	s.AddEvent("timed", trace.WithTimestamp(at), trace.WithAttributes(attribute.String("k", "v")))
	s.AddEvent("stacked", trace.WithStackTrace(true))
	s.RecordError(nil)
	s.RecordError(errors.New("boom"), trace.WithTimestamp(at))
	s.RecordError(&myError{}, trace.WithStackTrace(true), trace.WithAttributes(attribute.Int("retry", 2)))
	s.End()
	got := only(t, p, r)
	if len(got.events) != 5 {
		t.Fatalf("got %d events, want 5", len(got.events))
	}
	e := got.events
	if e[0].name != "plain" || e[0].time == 0 || len(e[0].attrs) != 0 {
		t.Errorf("plain event %+v", e[0])
	}
	if e[1].time != uint64(at.UnixNano()) || attrMap(e[1].attrs)["k"] != "v" {
		t.Errorf("timed event %+v", e[1])
	}
	if st, _ := attrMap(e[2].attrs)["code.stacktrace"].(string); !strings.Contains(st, "TestSpanEventsAndErrors") {
		t.Errorf("stack trace event has code.stacktrace %q", st)
	}
	m := attrMap(e[3].attrs)
	if e[3].name != "exception" || m["exception.type"] != "*errors.errorString" || m["exception.message"] != "boom" || e[3].time != uint64(at.UnixNano()) {
		t.Errorf("exception event %+v", e[3])
	}
	if _, ok := m["exception.stacktrace"]; ok {
		t.Error("exception without WithStackTrace has a stack trace")
	}
	m = attrMap(e[4].attrs)
	if m["exception.type"] != "*sdk.myError" || m["exception.message"] != "mine" || m["retry"] != int64(2) {
		t.Errorf("exception event %v", m)
	}
	if st, _ := m["exception.stacktrace"].(string); !strings.Contains(st, "goroutine") {
		t.Errorf("exception.stacktrace %q", st)
	}
	if got.hasStatus {
		t.Error("RecordError changed the status")
	}
}

func TestSpanEndRecordsAPanicAndRepanics(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	at := time.Unix(1700000002, 7)
	panicked := func(withStack bool, v any) (recovered any) {
		defer func() { recovered = recover() }()
		_, s := tr.Start(context.Background(), "op", trace.WithTimestamp(at.Add(-time.Second)))
		defer s.End(trace.WithStackTrace(withStack), trace.WithTimestamp(at))
		panic(v)
	}
	if got := panicked(false, "plain"); got != "plain" {
		t.Fatalf("recovered %v after End, want the panic value", got)
	}
	if got := panicked(true, &myError{}); got == nil {
		t.Fatal("End stopped the panic")
	}
	func() {
		_, s := tr.Start(context.Background(), "calm")
		defer s.End()
	}()
	p.Flush()
	spans := r.spans(t)
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	for i, want := range []map[string]any{
		{"exception.type": "string", "exception.message": "plain"},
		{"exception.type": "*sdk.myError", "exception.message": "mine"},
	} {
		e := spans[i].events
		if len(e) != 1 || e[0].name != "exception" || e[0].time != uint64(at.UnixNano()) {
			t.Fatalf("span %d events %+v, want one exception at the end time", i, e)
		}
		m := attrMap(e[0].attrs)
		for k, v := range want {
			if m[k] != v {
				t.Errorf("span %d %s = %v, want %v", i, k, m[k], v)
			}
		}
		st, _ := m["exception.stacktrace"].(string)
		if withStack := i == 1; withStack != strings.Contains(st, "TestSpanEndRecordsAPanicAndRepanics") {
			t.Errorf("span %d exception.stacktrace %q", i, st)
		}
	}
	if len(spans[2].events) != 0 {
		t.Errorf("a span ended without a panic has events %+v", spans[2].events)
	}
}

type myError struct{}

func (*myError) Error() string { return "mine" }

func TestTypeNameNamesValueTypes(t *testing.T) {
	if got := typeName(valueError{}); got != "github.com/spanbridge/spanbridge/go/sdk.valueError" {
		t.Errorf("typeName = %q", got)
	}
}

type valueError struct{}

func (valueError) Error() string { return "value" }

func TestSpanStatus(t *testing.T) {
	tests := []struct {
		name     string
		set      func(trace.Span)
		has      bool
		code     uint64
		message  string
		describe string
	}{
		{"unset", func(trace.Span) {}, false, 0, "", "no status message"},
		{"unset ignored", func(s trace.Span) { s.SetStatus(codes.Unset, "x") }, false, 0, "", "Unset sets nothing"},
		{"error", func(s trace.Span) { s.SetStatus(codes.Error, "bad") }, true, 2, "bad", "Error keeps its description"},
		{"ok drops description", func(s trace.Span) { s.SetStatus(codes.Ok, "fine") }, true, 1, "", "Ok has no description"},
		{"error then ok", func(s trace.Span) { s.SetStatus(codes.Error, "bad"); s.SetStatus(codes.Ok, "") }, true, 1, "", "Ok overrides Error"},
		{"ok is final", func(s trace.Span) { s.SetStatus(codes.Ok, ""); s.SetStatus(codes.Error, "bad") }, true, 1, "", "Ok is final"},
		{"error then unset", func(s trace.Span) { s.SetStatus(codes.Error, "bad"); s.SetStatus(codes.Unset, "") }, true, 2, "bad", "Unset does not clear"},
		{"error twice", func(s trace.Span) { s.SetStatus(codes.Error, "a"); s.SetStatus(codes.Error, "b") }, true, 2, "b", "Error replaces Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := newTestProvider(t)
			_, s := p.Tracer("test").Start(context.Background(), "op")
			tt.set(s)
			s.End()
			got := only(t, p, r)
			if got.hasStatus != tt.has || got.statusCode != tt.code || got.statusMessage != tt.message {
				t.Errorf("%s: status %v %d %q, want %v %d %q", tt.describe, got.hasStatus, got.statusCode, got.statusMessage, tt.has, tt.code, tt.message)
			}
		})
	}
}

func TestSpanSetNameAndAttributes(t *testing.T) {
	p, r := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), "first", trace.WithAttributes(attribute.String("k", "start")))
	s.SetName("second")
	s.SetAttributes(attribute.String("k", "replaced"), attribute.Int("n", 1), attribute.KeyValue{})
	s.SetAttributes()
	s.End()
	got := only(t, p, r)
	if got.name != "second" {
		t.Errorf("name %q", got.name)
	}
	if m := attrMap(got.attrs); len(got.attrs) != 2 || m["k"] != "replaced" || m["n"] != int64(1) {
		t.Errorf("attributes %+v", got.attrs)
	}
	if got.droppedAttrs != 1 {
		t.Errorf("dropped %d, want 1 (the invalid attribute)", got.droppedAttrs)
	}
}

func TestSpanAttributeTypes(t *testing.T) {
	p, r := newTestProvider(t)
	attrs := []attribute.KeyValue{
		attribute.Bool("bool", true),
		attribute.Bool("false", false),
		attribute.Int64("int", -42),
		attribute.Int("zero", 0),
		attribute.Float64("float", 3.25),
		attribute.String("string", "héllo"),
		attribute.String("empty", ""),
		attribute.BoolSlice("bools", []bool{true, false}),
		attribute.Int64Slice("ints", []int64{1, -2, 3}),
		attribute.IntSlice("intslice", []int{4, 5, 6, 7}),
		attribute.Float64Slice("floats", []float64{0.5, -1}),
		attribute.StringSlice("strings", []string{"a", "", "c"}),
		attribute.StringSlice("nostrings", []string{}),
		attribute.ByteSlice("bytes", []byte{0, 1, 255}),
		{Key: "slice", Value: attribute.SliceValue(attribute.IntValue(1), attribute.StringValue("two"),
			attribute.SliceValue(attribute.BoolValue(true)))},
		{Key: "map", Value: attribute.MapValue(attribute.String("x", "y"), attribute.Int("z", 1))},
		{Key: "emptyvalue", Value: attribute.Value{}},
		attribute.String("long", strings.Repeat("long value ", 50)),
		attribute.String("bad utf8", "a\xffb"),
	}
	_, s := p.Tracer("test").Start(context.Background(), "op")
	s.SetAttributes(attrs...)
	s.End()
	got := only(t, p, r)
	if len(got.attrs) != len(attrs) {
		t.Fatalf("got %d attributes, want %d", len(got.attrs), len(attrs))
	}
	for i, kv := range attrs {
		w := want(kv.Value)
		if kv.Key == "bad utf8" {
			w = "a\uFFFDb"
		}
		if got.attrs[i].key != string(kv.Key) || !reflect.DeepEqual(got.attrs[i].value, w) {
			t.Errorf("attribute %s = %#v, want %#v", kv.Key, got.attrs[i].value, w)
		}
	}
}

func TestSpanCallsAfterEndAreIgnored(t *testing.T) {
	p, r := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), "op")
	s.End()
	s.SetName("late")
	s.SetAttributes(attribute.Int("late", 1))
	s.AddEvent("late")
	s.RecordError(errors.New("late"))
	s.AddLink(trace.Link{SpanContext: s.SpanContext()})
	s.SetStatus(codes.Error, "late")
	s.End()
	got := only(t, p, r)
	if got.name != "op" || len(got.attrs)+len(got.events)+len(got.links) != 0 || got.hasStatus {
		t.Errorf("span changed after End: %+v", got)
	}
}

func TestSpanAddLink(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	_, other := tr.Start(context.Background(), "other")
	_, s := tr.Start(context.Background(), "op")
	state := must1(trace.ParseTraceState("k=v"))
	s.AddLink(trace.Link{SpanContext: other.SpanContext().WithTraceState(state), Attributes: []attribute.KeyValue{attribute.String("why", "fan-in")}})
	s.AddLink(trace.Link{})
	s.AddLink(trace.Link{Attributes: []attribute.KeyValue{attribute.String("only", "attrs")}})
	s.End()
	other.End()
	p.Flush()
	spans := r.spans(t)
	got := spans[0]
	if len(got.links) != 2 {
		t.Fatalf("got %d links, want 2 (an empty link is ignored)", len(got.links))
	}
	osc := other.SpanContext()
	if sid := osc.SpanID(); !bytes.Equal(got.links[0].spanID, sid[:]) || got.links[0].flags != 0x103 ||
		attrMap(got.links[0].attrs)["why"] != "fan-in" || got.links[0].traceState != "k=v" {
		t.Errorf("link %+v", got.links[0])
	}
}

func TestSpanTracerProvider(t *testing.T) {
	p, _ := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), "op")
	defer s.End()
	if s.TracerProvider() != p {
		t.Error("recording span's TracerProvider is not its provider")
	}
	_, n := p.Tracer("test").Start(context.Background(), "op", trace.WithNewRoot())
	if n.TracerProvider() != p {
		t.Error("span's TracerProvider is not its provider")
	}
}

// The recording state of an ended span is reused by later spans: the ended
// span's handle keeps its span context and its methods change nothing.
func TestEndedSpanHandleOutlivesItsState(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	_, a := tr.Start(context.Background(), "a")
	asc := a.SpanContext()
	a.End()
	_, b := tr.Start(context.Background(), "b")
	a.SetAttributes(attribute.String("late", "a"))
	a.AddEvent("late")
	a.SetName("renamed")
	a.End()
	if !a.SpanContext().Equal(asc) || a.IsRecording() || !b.IsRecording() {
		t.Errorf("ended span context %v (was %v), recording %v; new span recording %v", a.SpanContext(), asc, a.IsRecording(), b.IsRecording())
	}
	b.End()
	p.Flush()
	spans := r.spans(t)
	if len(spans) != 2 || spans[0].name != "a" || spans[1].name != "b" || len(spans[1].attrs)+len(spans[1].events) != 0 {
		t.Errorf("spans %+v, want a and b, b without a's late calls", spans)
	}
}
