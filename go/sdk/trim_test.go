package sdk

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// smallBound makes batches of MinBatchBytes, so spans are bound to 64 KiB
// (less framing).
var smallBound = WithMaxBatchBytes(MinBatchBytes)

// pad returns a non-string value of about n bytes encoded, which trimming
// cannot cut.
func pad(n int) attribute.Value { return attribute.Float64SliceValue(make([]float64, n/11)) }

// Spec, common, Attribute Limits: values are truncated, not dropped. The
// span bound cuts the largest string values to one length before it drops
// anything (issue 13.6).
func TestSpanBoundCutsLargestValuesFirst(t *testing.T) {
	p, r := newTestProvider(t, smallBound)
	big := strings.Repeat("b", 40<<10)
	_, s := p.Tracer("test").Start(context.Background(), "big")
	s.SetAttributes(attribute.String("small", "s"), attribute.String("big", big),
		attribute.String("big2", big+big), attribute.Int("n", 1))
	s.End()
	got := only(t, p, r)
	bound := spanBytesFor(MinBatchBytes)
	if got.size > bound || got.droppedAttrs != 0 {
		t.Fatalf("span is %d bytes (bound %d), %d attributes dropped", got.size, bound, got.droppedAttrs)
	}
	m := attrMap(got.attrs)
	b1, b2 := m["big"].(string), m["big2"].(string)
	if m["small"] != "s" || m["n"] != int64(1) || len(b1) != len(b2) || len(b1) < 20<<10 || len(b1) >= 40<<10 {
		t.Errorf("kept small=%v n=%v, big %d and big2 %d bytes; want both cut to one length", m["small"], m["n"], len(b1), len(b2))
	}
	if !reported("cut its 2 largest string values") {
		t.Error("the cut was not reported")
	}
}

// The span bound follows the batch size: a 100 KiB attribute fits the
// default 256 KiB batch whole (issue 13.6).
func TestSpanBoundFollowsBatchSize(t *testing.T) {
	for _, batch := range []int{DefaultMaxBatchBytes, MaxBatchBytes} {
		value := strings.Repeat("v", batch/2)
		p, r := newTestProvider(t, WithMaxBatchBytes(batch))
		_, s := p.Tracer("test").Start(context.Background(), "op", trace.WithAttributes(attribute.String("v", value)))
		s.End()
		if got := only(t, p, r); attrMap(got.attrs)["v"] != value || got.droppedAttrs != 0 {
			t.Errorf("batch bound %d: a %d-byte value was cut or dropped", batch, len(value))
		}
	}
}

// Issue 15.7: a 10 MB value is cut before it is encoded, so End does not
// encode (and allocate) the whole value.
func TestHugeValueCutBeforeEncoding(t *testing.T) {
	p, r := newTestProvider(t)
	huge := strings.Repeat("h", 10<<20)
	_, s := p.Tracer("test").Start(context.Background(), "huge", trace.WithAttributes(attribute.String("v", huge)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	s.End()
	took := time.Since(t0)
	runtime.ReadMemStats(&after)
	t.Logf("End of a span with a 10 MiB value took %v", took)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("End allocated %d bytes for a 10 MiB value: it was encoded before it was cut", alloc)
	}
	got := only(t, p, r)
	if v := attrMap(got.attrs)["v"].(string); got.size > spanBytesFor(DefaultMaxBatchBytes) || len(v) < 200<<10 {
		t.Errorf("span %d bytes, value cut to %d", got.size, len(v))
	}
}

func TestSpanBoundDropsWhatCannotBeCut(t *testing.T) {
	link := func(i int) trace.Link {
		return trace.Link{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i + 1)}}),
			Attributes:  []attribute.KeyValue{{Key: "pad", Value: pad(10 << 10)}},
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
			attrs:        []attribute.KeyValue{attribute.String("small", "s"), {Key: "big", Value: pad(40 << 10)}, {Key: "big2", Value: pad(40 << 10)}, attribute.Int("n", 1)},
			droppedAttrs: 1,
			keptAttrs:    []string{"small", "big", "n"},
		},
		{
			name:         "attributes then events",
			attrs:        []attribute.KeyValue{{Key: "big", Value: pad(40 << 10)}, {Key: "m", Value: pad(10 << 10)}},
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
			p, r := newTestProvider(t, smallBound)
			var links []trace.Link
			for i := range tt.links {
				links = append(links, link(i))
			}
			_, s := p.Tracer("test").Start(context.Background(), "big", trace.WithLinks(links...))
			s.SetAttributes(tt.attrs...)
			for i := range tt.events {
				s.AddEvent(fmt.Sprint("e", i), trace.WithAttributes(attribute.KeyValue{Key: "pad", Value: pad(10 << 10)}))
			}
			s.End()
			got := only(t, p, r)
			if bound := spanBytesFor(MinBatchBytes); got.size > bound {
				t.Errorf("span is %d bytes, over %d", got.size, bound)
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
	_, s := p.Tracer("test").Start(context.Background(), strings.Repeat("n", 300<<10))
	s.End()
	got := only(t, p, r)
	if len(got.name) != nameCut {
		t.Errorf("name is %d bytes, want cut to %d", len(got.name), nameCut)
	}
}

// Strings are cut only when cutting them can make the span fit; otherwise
// the largest element goes whole and the strings stay intact.
func TestSpanBoundKeepsStringsWhenCuttingCannotHelp(t *testing.T) {
	p, r := newTestProvider(t)
	text := strings.Repeat("t", 100<<10)
	_, s := p.Tracer("test").Start(context.Background(), "mixed", trace.WithAttributes(
		attribute.String("id", "u-1"), attribute.String("text", text),
		attribute.KeyValue{Key: "samples", Value: pad(300 << 10)}))
	s.End()
	got := only(t, p, r)
	if m := attrMap(got.attrs); m["id"] != "u-1" || m["text"] != text || m["samples"] != nil || got.droppedAttrs != 1 {
		t.Errorf("kept %d attributes, dropped %d; want id and text whole, samples dropped", len(m), got.droppedAttrs)
	}
}

// The trim report reaches the error handler after the batch lock is
// released: a handler that ends a span of the same tracer must not
// deadlock.
func TestTrimReportOutsideTheBatchLock(t *testing.T) {
	p, r := newTestProvider(t, smallBound)
	tr := p.Tracer("test")
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		prev.Handle(err)
		_, s := tr.Start(context.Background(), "from the handler")
		s.End()
	}))
	defer otel.SetErrorHandler(prev)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, s := tr.Start(context.Background(), "big", trace.WithAttributes(attribute.String("v", strings.Repeat("v", 100<<10))))
		s.End()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("End of a trimmed span deadlocked with an error handler that ends a span")
	}
	p.Flush()
	if n := len(r.spans(t)); n != 2 {
		t.Errorf("%d spans, want the trimmed one and the handler's", n)
	}
}
