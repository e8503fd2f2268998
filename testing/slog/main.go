// Command slog is the end-to-end test program of log export (tests/logs_test.ts,
// tests/collector_logs_test.ts, tests/container_logs_test.ts): it writes log
// records through log/slog and the otelslog bridge over spanbridge's
// LoggerProvider, each inside a span of its own, then one record outside any
// span, and shuts the SDK down so every batch is handed off.
//
// With -record FILE it also writes, as JSON, what it logged (a slog handler
// in front of otelslog's sees each record as the bridge gets it, with the
// span context of its context), so that a test can compare what arrives
// record by record.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
)

func main() {
	n := flag.Int("n", 100, "spans, each with two log records")
	recordFile := flag.String("record", "", "write what was logged to this file (JSON)")
	wait := flag.Duration("wait-attach", 0, "wait up to this long for the probe first, and fail if it is not there")
	flag.Parse()
	if *wait > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), *wait)
		attached := sdk.WaitAttached(ctx)
		cancel()
		if !attached {
			fmt.Fprintf(os.Stderr, "slog: no probe attached within -wait-attach %v\n", *wait)
			os.Exit(1)
		}
	}
	tracer := sdk.TracerProvider().Tracer("spanbridge/testing/slog")
	rec := &recorder{next: otelslog.NewHandler("spanbridge/testing/slog",
		otelslog.WithLoggerProvider(sdk.LoggerProvider()))}
	logger := slog.New(rec)
	ctx := context.Background()
	logger.InfoContext(ctx, "starting", "spans", *n)
	for i := 0; i < *n; i++ {
		spanCtx, span := tracer.Start(ctx, fmt.Sprintf("op %d", i))
		logger.InfoContext(spanCtx, "working", "i", i)
		logger.WarnContext(spanCtx, "slow step", "i", i, "step", "db")
		span.End()
	}
	shutdown, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sdk.Shutdown(shutdown); err != nil {
		fmt.Fprintf(os.Stderr, "slog: cannot shut the SDK down: %v\n", err)
		os.Exit(1)
	}
	if *recordFile != "" {
		if err := rec.write(*recordFile); err != nil {
			fmt.Fprintf(os.Stderr, "slog: %v\n", err)
			os.Exit(1)
		}
	}
}

// logged is one record as the program logged it. Attribute values are kept
// as slog resolved them (int64 for ints, string for strings).
type logged struct {
	TimeUnixNano int64          `json:"timeUnixNano,string"`
	Body         string         `json:"body"`
	Level        string         `json:"level"`
	Attributes   map[string]any `json:"attributes"`
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	Sampled      bool           `json:"sampled"`
}

// recorder is a slog.Handler that keeps each record before it hands it to
// next. The program gives its logger no attributes or groups of its own, so
// WithAttrs and WithGroup are never called; they pass through unrecorded.
type recorder struct {
	next    slog.Handler
	records []logged
}

var _ slog.Handler = (*recorder)(nil)

func (r *recorder) Enabled(ctx context.Context, l slog.Level) bool {
	return r.next.Enabled(ctx, l)
}

func (r *recorder) Handle(ctx context.Context, record slog.Record) error {
	attrs := map[string]any{}
	record.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Resolve().Any()
		return true
	})
	l := logged{
		TimeUnixNano: record.Time.UnixNano(),
		Body:         record.Message,
		Level:        record.Level.String(),
		Attributes:   attrs,
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		l.TraceID, l.SpanID, l.Sampled = sc.TraceID().String(), sc.SpanID().String(), sc.IsSampled()
	}
	r.records = append(r.records, l)
	return r.next.Handle(ctx, record)
}

func (r *recorder) WithAttrs(attrs []slog.Attr) slog.Handler { return r.next.WithAttrs(attrs) }

func (r *recorder) WithGroup(name string) slog.Handler { return r.next.WithGroup(name) }

func (r *recorder) write(path string) error {
	data, err := json.Marshal(r.records)
	if err != nil {
		return fmt.Errorf("encode the log record file: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write the log record file %s: %w", path, err)
	}
	return nil
}
