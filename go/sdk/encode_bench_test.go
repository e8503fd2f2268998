package sdk

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkSpanParts times the parts of the attached path of go/bench's
// typical span (5 attributes, 1 event) one by one, without the GC pressure
// of the whole path, to show where a span's cost goes.
func BenchmarkSpanParts(b *testing.B) {
	p, _ := newTestProvider(b, WithMaxExportBatchSize(1<<20), WithMaxBatchBytes(MaxBatchBytes))
	tr := p.Tracer("bench")
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", "GET"),
		attribute.String("url.path", "/users/42"),
		attribute.Int("http.response.status_code", 200),
		attribute.String("user_agent.original", "bench/1.0"),
		attribute.Bool("cache.hit", true),
	}
	_, s := tr.Start(context.Background(), "GET /users/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	s.AddEvent("db.query", trace.WithAttributes(attribute.String("db.statement", "SELECT * FROM users WHERE id = ?")))
	data := s.(*span).st.Load().data
	data.events = slices.Clone(data.events) // the state's own array goes back to the pool at End
	d := &data
	s.End()
	b.Run("encode", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = appendSpanContent(buf[:0], d)
		}
		b.ReportMetric(float64(len(buf)), "B/span")
	})
	b.Run("ids", func(b *testing.B) {
		for b.Loop() {
			_ = newTraceID()
			_ = newSpanID()
		}
	})
	b.Run("addAttrs", func(b *testing.B) {
		lim := &p.cfg.limits
		for b.Loop() {
			_, _ = addAttrs(attrs[:0], attrs, lim.AttributeCountLimit, lim)
		}
	})
	b.Run("start-end-no-options", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			_, s := tr.Start(ctx, "op")
			s.End()
		}
	})
}
