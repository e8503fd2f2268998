package bench

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/sdktest"
)

// typicalSpan makes the span every benchmark measures: 5 attributes and 1
// event.
func typicalSpan(ctx context.Context, tr trace.Tracer) {
	_, s := tr.Start(ctx, "GET /users/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", "GET"),
		attribute.String("url.path", "/users/42"),
		attribute.Int("http.response.status_code", 200),
		attribute.String("user_agent.original", "bench/1.0"),
		attribute.Bool("cache.hit", true),
	))
	s.AddEvent("db.query", trace.WithAttributes(attribute.String("db.statement", "SELECT * FROM users WHERE id = ?")))
	s.End()
}

func run(b *testing.B, tr trace.Tracer) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		typicalSpan(ctx, tr)
	}
}

// attached makes the SDK see a probe; it counts batches and their bytes.
func attached(b *testing.B) {
	var batches, bytes atomic.Int64
	detach := sdktest.Attach(func(batch []byte) {
		batches.Add(1)
		bytes.Add(int64(len(batch)))
	})
	b.Cleanup(func() {
		detach()
		if n := batches.Load(); n > 0 {
			b.ReportMetric(float64(n)/float64(b.N), "handoffs/op")
			b.ReportMetric(float64(bytes.Load())/float64(b.N), "B/span")
		}
	})
}

func BenchmarkSpan(b *testing.B) {
	b.Run("noop", func(b *testing.B) {
		run(b, noop.NewTracerProvider().Tracer("bench"))
	})
	b.Run("api-floor", func(b *testing.B) {
		run(b, floorTracer{})
	})
	b.Run("spanbridge-detached", func(b *testing.B) {
		if sdk.Attached() {
			b.Skip("a real probe is attached")
		}
		p := sdk.NewTracerProvider()
		defer shutdown(b, p.Shutdown)
		run(b, p.Tracer("bench"))
	})
	b.Run("spanbridge-attached", func(b *testing.B) {
		attached(b)
		p := sdk.NewTracerProvider()
		defer shutdown(b, p.Shutdown)
		run(b, p.Tracer("bench"))
	})
	b.Run("spanbridge-attached-unsampled", func(b *testing.B) {
		attached(b)
		p := sdk.NewTracerProvider(sdk.WithSampler(sdk.NeverSample()))
		defer shutdown(b, p.Shutdown)
		run(b, p.Tracer("bench"))
	})
	b.Run("spanbridge-attached-handoff-per-span", func(b *testing.B) {
		attached(b)
		p := sdk.NewTracerProvider(sdk.WithMaxExportBatchSize(1))
		defer shutdown(b, p.Shutdown)
		run(b, p.Tracer("bench"))
	})
	b.Run("otel-sdk-batch-otlphttp", func(b *testing.B) {
		run(b, otelProvider(b).Tracer("bench"))
	})
}

// floorTracer does what any recording SDK must do through the API and no
// more: it reads the start and event options (NewSpanStartConfig and
// NewEventConfig copy the attributes) and puts its span in the context. The
// no-op tracer skips both, so this is the floor of an attached span.
type floorTracer struct{ noop.Tracer }

func (floorTracer) Start(ctx context.Context, _ string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	s := &floorSpan{attrs: len(cfg.Attributes())}
	return trace.ContextWithSpan(ctx, s), s
}

// floorSpan keeps what it was given, so that nothing is optimised away.
type floorSpan struct {
	noop.Span
	attrs int
}

func (s *floorSpan) AddEvent(_ string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	s.attrs += len(cfg.Attributes())
}

// BenchmarkSpanParallel runs the attached SDK and the OpenTelemetry SDK from
// every P at once.
func BenchmarkSpanParallel(b *testing.B) {
	par := func(b *testing.B, tr trace.Tracer) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				typicalSpan(context.Background(), tr)
			}
		})
	}
	b.Run("spanbridge-attached", func(b *testing.B) {
		attached(b)
		p := sdk.NewTracerProvider()
		defer shutdown(b, p.Shutdown)
		par(b, p.Tracer("bench"))
	})
	b.Run("otel-sdk-batch-otlphttp", func(b *testing.B) {
		par(b, otelProvider(b).Tracer("bench"))
	})
}

// otelProvider returns the OpenTelemetry SDK with a BatchSpanProcessor and
// the OTLP/HTTP exporter sending to a local receiver that discards the
// requests; both are shut down when the benchmark ends.
func otelProvider(b *testing.B) *sdktrace.TracerProvider {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"), otlptracehttp.WithInsecure())
	if err != nil {
		b.Fatalf("make OTLP HTTP exporter: %v", err)
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	b.Cleanup(func() { shutdown(b, p.Shutdown) })
	return p
}

func shutdown(b *testing.B, fn func(context.Context) error) {
	if err := fn(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		b.Errorf("shut down: %v", err)
	}
}
