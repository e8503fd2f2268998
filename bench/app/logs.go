package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
)

// logCost times n typical log records on one goroutine after warmup ones,
// through the slog handler chosen by name, and prints the result.
func logCost(name, attach string, wait time.Duration, endpoint string, warmup, n int) {
	var exported atomic.Int64
	logger, shutdown, err := newSlogLogger(name, endpoint, &exported)
	if err != nil {
		fail(1, err)
	}
	if name == "spanbridge" {
		if err := awaitAttach(attach, wait); err != nil {
			fail(3, err)
		}
	}
	for i := range warmup {
		typicalLog(logger, i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	start := time.Now()
	for i := range n {
		typicalLog(logger, i)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	out := map[string]any{
		"records":           n,
		"ns_per_record":     float64(elapsed.Nanoseconds()) / float64(n),
		"cpu_ns_per_record": float64(cpu.Nanoseconds()) / float64(n),
		"allocs_per_record": float64(after.Mallocs-before.Mallocs) / float64(n),
		"bytes_per_record":  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
	}
	t0 := time.Now()
	if err := shutdown(context.Background()); err != nil {
		fail(1, fmt.Errorf("shut down the logger: %w", err))
	}
	out["shutdown_ms"] = float64(time.Since(t0).Microseconds()) / 1000
	switch name {
	case "spanbridge":
		out["attached"] = sdk.Attached()
	case "otel":
		out["exported"] = exported.Load()
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(1, fmt.Errorf("write the result: %w", err))
	}
}

// newSlogLogger makes the slog logger of one -logger choice and its
// shutdown. The OpenTelemetry log SDK's exporter adds the records it
// exported to exported.
func newSlogLogger(name, endpoint string, exported *atomic.Int64) (*slog.Logger, func(context.Context) error, error) {
	const scope = "github.com/spanbridge/spanbridge/bench/app"
	switch name {
	case "spanbridge":
		p := sdk.NewLoggerProvider()
		return slog.New(otelslog.NewHandler(scope, otelslog.WithLoggerProvider(p))), p.Shutdown, nil
	case "noop":
		return slog.New(otelslog.NewHandler(scope, otelslog.WithLoggerProvider(noop.NewLoggerProvider()))),
			func(context.Context) error { return nil }, nil
	case "otel":
		if endpoint == "" {
			return nil, nil, fmt.Errorf("-logger otel needs -endpoint")
		}
		// The receiver's traces URL, with the logs path.
		url := strings.TrimSuffix(endpoint, "/v1/traces") + "/v1/logs"
		exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL(url), otlploghttp.WithInsecure())
		if err != nil {
			return nil, nil, fmt.Errorf("create the OTLP log exporter: %w", err)
		}
		p := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(countingLogExporter{exp, exported})))
		return slog.New(otelslog.NewHandler(scope, otelslog.WithLoggerProvider(p))), p.Shutdown, nil
	case "slog-json":
		f, err := os.CreateTemp("", "spanbridge-bench-log-*.json")
		if err != nil {
			return nil, nil, fmt.Errorf("create the log file: %w", err)
		}
		return slog.New(slog.NewJSONHandler(f, nil)), func(context.Context) error {
			closeErr := f.Close()
			if err := os.Remove(f.Name()); err != nil {
				return fmt.Errorf("remove %s: %w", f.Name(), err)
			}
			return closeErr
		}, nil
	}
	return nil, nil, fmt.Errorf("unknown -logger %q: use spanbridge, otel, noop or slog-json", name)
}

// countingLogExporter counts the records its exporter delivered: the batch
// processor drops records when its queue is full, which makes it cheaper.
type countingLogExporter struct {
	sdklog.Exporter
	n *atomic.Int64
}

func (e countingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	err := e.Exporter.Export(ctx, records)
	if err == nil {
		e.n.Add(int64(len(records)))
	}
	return err
}

// requestCtx is a context inside a sampled span, as a request handler's is.
var requestCtx = trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
	TraceID: trace.TraceID{1, 2, 3, 4}, SpanID: trace.SpanID{5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
}))

// typicalLog writes the record every log mode measures: a message and 5
// attributes of mixed types, inside a span.
func typicalLog(l *slog.Logger, i int) {
	l.LogAttrs(requestCtx, slog.LevelInfo, "request handled",
		slog.String("http.request.method", "GET"),
		slog.String("url.path", "/users/42"),
		slog.Int("http.response.status_code", 200),
		slog.Float64("duration_ms", 4.2),
		slog.Bool("cache.hit", i&1 == 0),
	)
}
