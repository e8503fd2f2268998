package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/sdktest"
)

// The SDK's batches, decoded with the official OTLP types (which also
// reject invalid UTF-8), carry what the spans recorded.
func TestBatchesDecodeWithOTLPTypes(t *testing.T) {
	recorded := sdktest.Record(t)
	p := sdk.NewTracerProvider()
	defer func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	tr := p.Tracer("conformance", trace.WithInstrumentationVersion("1.0.0"),
		trace.WithSchemaURL("https://opentelemetry.io/schemas/1.43.0"),
		trace.WithInstrumentationAttributes(attribute.String("scope.k", "v")))

	start := time.Unix(1700000000, 1)
	ctx, parent := tr.Start(context.Background(), "parent", trace.WithTimestamp(start))
	_, child := tr.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start),
		trace.WithLinks(trace.Link{SpanContext: parent.SpanContext(), Attributes: []attribute.KeyValue{attribute.Int("l", 1)}}),
		trace.WithAttributes(
			attribute.String("s", "x"), attribute.Int("i", -1), attribute.Float64("f", 1.5), attribute.Bool("b", true),
			attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, 2}),
			attribute.Float64Slice("fs", []float64{0.5}), attribute.BoolSlice("bs", []bool{false}),
			attribute.ByteSlice("by", []byte{1, 2}),
			attribute.KeyValue{Key: "m", Value: attribute.MapValue(attribute.String("k", "v"))},
			attribute.KeyValue{Key: "sl", Value: attribute.SliceValue(attribute.IntValue(1), attribute.StringValue("x"))},
			attribute.String("bad", "\xff"), attribute.String("long", strings.Repeat("y", 300)),
		))
	child.AddEvent("ev", trace.WithTimestamp(start.Add(time.Millisecond)), trace.WithAttributes(attribute.String("e", "v")))
	child.RecordError(errors.New("boom"), trace.WithStackTrace(true))
	child.SetStatus(codes.Error, "failed")
	child.End(trace.WithTimestamp(start.Add(time.Second)))
	parent.SetStatus(codes.Ok, "")
	parent.End(trace.WithTimestamp(start.Add(2 * time.Second)))
	p.Flush()

	batches := recorded()
	if len(batches) != 1 {
		t.Fatalf("%d batches, want 1", len(batches))
	}
	var td tracepb.TracesData
	if err := proto.Unmarshal(batches[0], &td); err != nil {
		t.Fatalf("unmarshal TracesData: %v", err)
	}
	rs := td.GetResourceSpans()
	if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 {
		t.Fatalf("resource spans %v", rs)
	}
	ss := rs[0].GetScopeSpans()[0]
	if sc := ss.GetScope(); sc.GetName() != "conformance" || sc.GetVersion() != "1.0.0" || sc.GetAttributes()[0].GetValue().GetStringValue() != "v" ||
		ss.GetSchemaUrl() != "https://opentelemetry.io/schemas/1.43.0" {
		t.Errorf("scope %v schema %q", sc, ss.GetSchemaUrl())
	}
	spans := ss.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	c, pa := spans[0], spans[1]
	if c.GetName() != "child" || c.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || pa.GetKind() != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Errorf("names/kinds %q %v %v", c.GetName(), c.GetKind(), pa.GetKind())
	}
	psid := parent.SpanContext().SpanID()
	if string(c.GetParentSpanId()) != string(psid[:]) || c.GetFlags() != 0x103 {
		t.Errorf("child parent %x flags %#x", c.GetParentSpanId(), c.GetFlags())
	}
	if c.GetStartTimeUnixNano() != uint64(start.UnixNano()) || c.GetEndTimeUnixNano() != uint64(start.Add(time.Second).UnixNano()) {
		t.Errorf("child times %d %d", c.GetStartTimeUnixNano(), c.GetEndTimeUnixNano())
	}
	attrs := map[string]string{}
	for _, kv := range c.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().String()
	}
	if len(attrs) != 13 || c.GetAttributes()[0].GetValue().GetStringValue() != "x" || c.GetAttributes()[11].GetValue().GetStringValue() != "\uFFFD" {
		t.Errorf("attributes %v", attrs)
	}
	if ev := c.GetEvents(); len(ev) != 2 || ev[0].GetName() != "ev" || ev[1].GetName() != "exception" || len(ev[1].GetAttributes()) != 3 {
		t.Errorf("events %v", ev)
	}
	if l := c.GetLinks(); len(l) != 1 || string(l[0].GetSpanId()) != string(psid[:]) || l[0].GetFlags() != 0x103 {
		t.Errorf("links %v", l)
	}
	if st := c.GetStatus(); st.GetCode() != tracepb.Status_STATUS_CODE_ERROR || st.GetMessage() != "failed" {
		t.Errorf("child status %v", st)
	}
	if st := pa.GetStatus(); st.GetCode() != tracepb.Status_STATUS_CODE_OK || st.GetMessage() != "" {
		t.Errorf("parent status %v", st)
	}
	res := map[string]string{}
	for _, kv := range rs[0].GetResource().GetAttributes() {
		res[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if res["telemetry.sdk.name"] != "spanbridge" || res["telemetry.sdk.language"] != "go" {
		t.Errorf("resource %v", res)
	}
}
