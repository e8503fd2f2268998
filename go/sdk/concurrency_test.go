package sdk

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Run with -race: every span method from many goroutines at once, while
// other goroutines end spans, flush, and batches fill.
func TestConcurrentSpanUse(t *testing.T) {
	p, r := newTestProvider(t, WithMaxExportBatchSize(16))
	tr := p.Tracer("test")
	ctx, shared := tr.Start(context.Background(), "shared")
	const workers, each = 8, 50
	var wg, early sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				shared.AddEvent("tick", trace.WithAttributes(attribute.Int("w", w)))
				shared.SetAttributes(attribute.Int(fmt.Sprint("w", w), i))
				shared.SetName(fmt.Sprint("shared ", w))
				shared.SetStatus(codes.Error, "x")
				shared.AddLink(trace.Link{SpanContext: shared.SpanContext()})
				shared.RecordError(fmt.Errorf("e%d", i))
				_ = shared.IsRecording()
				_, c := tr.Start(ctx, "child")
				c.SetAttributes(attribute.Int("i", i))
				c.End()
				if i == each/2 && w == 0 {
					early.Add(1)
					go func() {
						defer early.Done()
						shared.End()
					}()
					p.Flush()
				}
			}
		}()
	}
	wg.Wait()
	early.Wait()
	shared.End()
	p.Flush()
	spans := r.spans(t)
	if len(spans) != workers*each+1 {
		t.Errorf("%d spans, want %d", len(spans), workers*each+1)
	}
	seen := map[string]bool{}
	for _, s := range spans {
		if seen[string(s.spanID)] {
			t.Fatalf("span ID %x twice", s.spanID)
		}
		seen[string(s.spanID)] = true
	}
}

// Run with -race: 64 goroutines end spans (with events) at once while
// batches fill by count and by bytes and another goroutine keeps flushing;
// every span arrives exactly once.
func TestSixtyFourGoroutinesEndSpansWhileBatchesFlush(t *testing.T) {
	p, r := newTestProvider(t, WithMaxExportBatchSize(32))
	tr := p.Tracer("test")
	const goroutines, each = 64, 40
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
				p.Flush()
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, s := tr.Start(context.Background(), "work",
					trace.WithAttributes(attribute.Int("g", g), attribute.Int("i", i)))
				s.AddEvent("step", trace.WithAttributes(attribute.String("pad", fmt.Sprint(g*each+i))))
				s.End()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-flushed
	p.Flush()
	spans := r.spans(t)
	if len(spans) != goroutines*each {
		t.Fatalf("%d spans arrived, want %d", len(spans), goroutines*each)
	}
	seen := map[string]bool{}
	for _, s := range spans {
		if seen[string(s.spanID)] {
			t.Fatalf("span ID %x arrived twice", s.spanID)
		}
		seen[string(s.spanID)] = true
	}
}
