package sdk

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

func TestTrimOversizedSpan(t *testing.T) {
	big := strings.Repeat("b", 40<<10)
	medium := strings.Repeat("m", 10<<10)
	link := func(i int) trace.Link {
		return trace.Link{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i + 1)}}),
			Attributes:  []attribute.KeyValue{attribute.String("pad", medium)},
		}
	}
	tests := []struct {
		name                                string
		attrs                               []attribute.KeyValue
		events                              int
		links                               int
		droppedAttrs, droppedEv, droppedLin uint64
		keptAttrs                           []string
	}{
		{
			name:         "largest attribute goes",
			attrs:        []attribute.KeyValue{attribute.String("small", "s"), attribute.String("big", big), attribute.String("big2", big), attribute.Int("n", 1)},
			droppedAttrs: 1,
			keptAttrs:    []string{"small", "big", "n"},
		},
		{
			name:         "attributes then events",
			attrs:        []attribute.KeyValue{attribute.String("big", big), attribute.String("m", medium)},
			events:       8,
			droppedAttrs: 2,
			droppedEv:    2,
		},
		{
			name:       "then links",
			events:     2,
			links:      8,
			droppedEv:  2,
			droppedLin: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := newTestProvider(t)
			var links []trace.Link
			for i := range tt.links {
				links = append(links, link(i))
			}
			_, s := p.Tracer("test").Start(context.Background(), "big", trace.WithLinks(links...))
			s.SetAttributes(tt.attrs...)
			for i := range tt.events {
				s.AddEvent(fmt.Sprint("e", i), trace.WithAttributes(attribute.String("pad", medium)))
			}
			s.End()
			got := only(t, p, r)
			if got.size > MaxSpanBytes {
				t.Errorf("span is %d bytes, over %d", got.size, MaxSpanBytes)
			}
			if got.droppedAttrs != tt.droppedAttrs || got.droppedEvents != tt.droppedEv || got.droppedLinks != tt.droppedLin {
				t.Errorf("dropped %d attributes, %d events, %d links; want %d, %d, %d",
					got.droppedAttrs, got.droppedEvents, got.droppedLinks, tt.droppedAttrs, tt.droppedEv, tt.droppedLin)
			}
			if tt.keptAttrs != nil {
				var keys []string
				for _, kv := range got.attrs {
					keys = append(keys, kv.key)
				}
				if fmt.Sprint(keys) != fmt.Sprint(tt.keptAttrs) {
					t.Errorf("kept attributes %v, want %v", keys, tt.keptAttrs)
				}
			}
		})
	}
}

func TestTrimHugeName(t *testing.T) {
	p, r := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), strings.Repeat("n", 100<<10))
	s.End()
	got := only(t, p, r)
	if len(got.name) != nameCut {
		t.Errorf("name is %d bytes, want cut to %d", len(got.name), nameCut)
	}
}
