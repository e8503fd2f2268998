package sdk

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

func TestNewSpanLimitsFromEnv(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		want := SpanLimits{-1, 64, 128, 128, 128, 128, 128}
		if got := NewSpanLimits(); got != want {
			t.Errorf("NewSpanLimits() = %+v, want %+v", got, want)
		}
	})
	t.Run("general", func(t *testing.T) {
		t.Setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "10")
		t.Setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20")
		want := SpanLimits{20, 64, 10, 128, 128, 10, 10}
		if got := NewSpanLimits(); got != want {
			t.Errorf("NewSpanLimits() = %+v, want %+v", got, want)
		}
	})
	t.Run("specific over general", func(t *testing.T) {
		t.Setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "10")
		t.Setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20")
		t.Setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1")
		t.Setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "2")
		t.Setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "3")
		t.Setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "4")
		t.Setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "5")
		t.Setenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "6")
		want := SpanLimits{2, 64, 1, 3, 4, 5, 6}
		if got := NewSpanLimits(); got != want {
			t.Errorf("NewSpanLimits() = %+v, want %+v", got, want)
		}
	})
	t.Run("bad value", func(t *testing.T) {
		t.Setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "many")
		if got := NewSpanLimits().EventCountLimit; got != 128 {
			t.Errorf("EventCountLimit = %d, want the default", got)
		}
	})
}

func TestSpanLimitsApply(t *testing.T) {
	p, r := newTestProvider(t, WithSpanLimits(SpanLimits{
		AttributeValueLengthLimit:   3,
		AttributeCountLimit:         2,
		EventCountLimit:             2,
		LinkCountLimit:              1,
		AttributePerEventCountLimit: 1,
		AttributePerLinkCountLimit:  1,
	}))
	link := func(i int) trace.Link {
		return trace.Link{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i)}}),
			Attributes:  []attribute.KeyValue{attribute.Int("a", i), attribute.Int("b", i)},
		}
	}
	_, s := p.Tracer("test").Start(context.Background(), "op",
		trace.WithAttributes(attribute.String("s", "héllo"), attribute.StringSlice("ss", []string{"abcdef", "x"})),
		trace.WithLinks(link(1), link(2)))
	s.SetAttributes(attribute.String("s", "wörld"), attribute.Int("third", 3), attribute.ByteSlice("b", []byte("bytes")))
	for i := range 4 {
		s.AddEvent(fmt.Sprint("e", i), trace.WithAttributes(attribute.Int("x", i), attribute.Int("y", i)))
	}
	s.AddLink(link(3))
	s.End()
	got := only(t, p, r)

	m := attrMap(got.attrs)
	if len(got.attrs) != 2 || m["s"] != "wör" || fmt.Sprint(m["ss"]) != "[abc x]" {
		t.Errorf("attributes %v, want s=wör (updated, cut to 3 characters) and ss=[abc x]", m)
	}
	if got.droppedAttrs != 2 {
		t.Errorf("dropped attributes %d, want 2", got.droppedAttrs)
	}
	if len(got.events) != 2 || got.events[0].name != "e2" || got.events[1].name != "e3" || got.droppedEvents != 2 {
		t.Errorf("events %+v dropped %d, want the newest two and 2 dropped", got.events, got.droppedEvents)
	}
	if e := got.events[1]; len(e.attrs) != 1 || e.dropped != 1 {
		t.Errorf("event attributes %+v dropped %d, want 1 and 1", e.attrs, e.dropped)
	}
	if len(got.links) != 1 || got.links[0].spanID[0] != 3 || got.droppedLinks != 2 {
		t.Errorf("links %+v dropped %d, want the newest and 2 dropped", got.links, got.droppedLinks)
	}
	if l := got.links[0]; len(l.attrs) != 1 || l.dropped != 1 {
		t.Errorf("link attributes %+v dropped %d, want 1 and 1", l.attrs, l.dropped)
	}
}

func TestSpanLimitsZeroAndNegative(t *testing.T) {
	p, r := newTestProvider(t, WithSpanLimits(SpanLimits{
		AttributeValueLengthLimit: -1, AttributeCountLimit: 0, EventCountLimit: 0, LinkCountLimit: 0,
		AttributePerEventCountLimit: -1, AttributePerLinkCountLimit: -1,
	}))
	_, s := p.Tracer("test").Start(context.Background(), "op", trace.WithAttributes(attribute.Int("a", 1)))
	s.AddEvent("e")
	s.AddLink(trace.Link{Attributes: []attribute.KeyValue{attribute.Int("a", 1)}})
	s.End()
	got := only(t, p, r)
	if len(got.attrs)+len(got.events)+len(got.links) != 0 || got.droppedAttrs != 1 || got.droppedEvents != 1 || got.droppedLinks != 1 {
		t.Errorf("zero limits kept %+v", got)
	}
}

func TestManyAttributesDeduplicate(t *testing.T) {
	p, r := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), "op")
	for i := range 300 {
		s.SetAttributes(attribute.Int(fmt.Sprint("k", i%150), i))
	}
	s.End()
	got := only(t, p, r)
	m := attrMap(got.attrs)
	if len(got.attrs) != 128 || got.droppedAttrs != 44 || m["k0"] != int64(150) {
		t.Errorf("%d attributes, %d dropped, k0=%v; want 128, 44 (22 new keys twice), 150", len(got.attrs), got.droppedAttrs, m["k0"])
	}
}

func TestTruncateValue(t *testing.T) {
	tests := []struct {
		in   attribute.Value
		want any
	}{
		{attribute.StringValue("日本語です"), "日本"},
		{attribute.StringValue("ab"), "ab"},
		{attribute.ByteSliceValue([]byte("abcdef")), []byte("ab")},
		{attribute.StringSliceValue([]string{"abc", "d"}), []any{"ab", "d"}},
		{attribute.SliceValue(attribute.StringValue("xyz"), attribute.IntValue(12345)), []any{"xy", int64(12345)}},
		{attribute.MapValue(attribute.String("k", "long")), []keyValue{{"k", "lo"}}},
		{attribute.IntValue(123456), int64(123456)},
	}
	for _, tt := range tests {
		v, _ := normValue(tt.in, 2, DefaultAttributeValueDepthLimit)
		got := want(v)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("normValue(%v, 2) = %v, want %v", tt.in.Emit(), got, tt.want)
		}
	}
	if got := truncateString(strings.Repeat("é", 10), 10); got != strings.Repeat("é", 10) {
		t.Errorf("10 characters cut to %q", got)
	}
}
