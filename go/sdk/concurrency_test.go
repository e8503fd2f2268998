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
