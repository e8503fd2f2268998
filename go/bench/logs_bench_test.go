package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	lognoop "go.opentelemetry.io/otel/log/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/sdktest"
)

// spanCtx is a context inside a sampled span, as a request handler's is:
// records written in it carry its trace and span IDs.
var spanCtx = trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
	TraceID: trace.TraceID{1, 2, 3, 4}, SpanID: trace.SpanID{5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
}))

// typicalSlog writes the record every slog benchmark measures: a message
// and 5 attributes of mixed types, inside a span.
func typicalSlog(l *slog.Logger) {
	l.LogAttrs(spanCtx, slog.LevelInfo, "request handled",
		slog.String("http.request.method", "GET"),
		slog.String("url.path", "/users/42"),
		slog.Int("http.response.status_code", 200),
		slog.Float64("duration_ms", 4.2),
		slog.Bool("cache.hit", true),
	)
}

// typicalRecord emits the same record through the Logs API directly.
func typicalRecord(l log.Logger) {
	var r log.Record
	r.SetSeverity(log.SeverityInfo)
	r.SetSeverityText("INFO")
	r.SetBody(attribute.StringValue("request handled"))
	r.AddAttributes(
		attribute.String("http.request.method", "GET"),
		attribute.String("url.path", "/users/42"),
		attribute.Int("http.response.status_code", 200),
		attribute.Float64("duration_ms", 4.2),
		attribute.Bool("cache.hit", true),
	)
	if l.Enabled(spanCtx, log.EnabledParameters{Severity: log.SeverityInfo}) {
		l.Emit(spanCtx, r)
	}
}

// attachedLogs makes the SDK see a probe; it counts log batches and bytes.
func attachedLogs(b *testing.B) {
	var batches, bytes int64
	detach := sdktest.AttachSignal(sdktest.Logs, func(batch []byte) {
		batches++
		bytes += int64(len(batch))
	})
	b.Cleanup(func() {
		detach()
		if batches > 0 {
			b.ReportMetric(float64(batches)/float64(b.N), "handoffs/op")
			b.ReportMetric(float64(bytes)/float64(b.N), "B/record")
		}
	})
}

// logProviders are the providers every log benchmark compares, each made
// for one sub-benchmark. slog-json-file is not a LoggerProvider: nil.
var logProviders = []struct {
	name string
	make func(b *testing.B) log.LoggerProvider
}{
	{"noop", func(*testing.B) log.LoggerProvider { return lognoop.NewLoggerProvider() }},
	{"spanbridge-detached", func(b *testing.B) log.LoggerProvider {
		if sdk.Attached() {
			b.Skip("a real probe is attached")
		}
		p := sdk.NewLoggerProvider()
		b.Cleanup(func() { shutdown(b, p.Shutdown) })
		return p
	}},
	{"spanbridge-attached", func(b *testing.B) log.LoggerProvider {
		attachedLogs(b)
		p := sdk.NewLoggerProvider()
		b.Cleanup(func() { shutdown(b, p.Shutdown) })
		return p
	}},
	{"otel-sdk-batch-otlphttp", func(b *testing.B) log.LoggerProvider { return otelLogProvider(b) }},
}

// BenchmarkLog times the typical record written through log/slog: with the
// otelslog bridge over each provider, and with slog's JSON handler to a
// file.
func BenchmarkLog(b *testing.B) {
	for _, p := range logProviders {
		b.Run(p.name, func(b *testing.B) {
			runSlog(b, slog.New(otelslog.NewHandler("bench", otelslog.WithLoggerProvider(p.make(b)))))
		})
	}
	b.Run("slog-json-file", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "log.json"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = f.Close() })
		runSlog(b, slog.New(slog.NewJSONHandler(f, nil)))
	})
}

// BenchmarkLogAPI times the typical record emitted through the Logs API
// directly (Enabled, then Emit), without a bridge.
func BenchmarkLogAPI(b *testing.B) {
	for _, p := range logProviders {
		b.Run(p.name, func(b *testing.B) {
			l := p.make(b).Logger("bench")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				typicalRecord(l)
			}
		})
	}
}

func runSlog(b *testing.B, l *slog.Logger) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		typicalSlog(l)
	}
}

// otelLogProvider returns the OpenTelemetry log SDK with a BatchProcessor
// and the OTLP/HTTP exporter sending to a local receiver that discards the
// requests; all are shut down when the benchmark ends.
func otelLogProvider(b *testing.B) *sdklog.LoggerProvider {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	exp, err := otlploghttp.New(context.Background(),
		otlploghttp.WithEndpointURL(srv.URL+"/v1/logs"), otlploghttp.WithInsecure())
	if err != nil {
		b.Fatalf("make OTLP HTTP log exporter: %v", err)
	}
	p := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	b.Cleanup(func() { shutdown(b, p.Shutdown) })
	return p
}
