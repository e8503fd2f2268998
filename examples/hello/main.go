// Command hello is a small program traced by spanbridge: a simulated HTTP
// handler whose requests fan out to goroutines (a cache lookup, a database
// query, rendering). It makes -rate traces per second until SIGINT or
// SIGTERM, or for -duration, then flushes its spans and exits.
//
//	go run ./hello -rate 5 -duration 30s
//
// It logs through log/slog with the OpenTelemetry bridge otelslog over
// sdk.LoggerProvider(): per request one record outside any span ("request
// received") and one inside the server span ("order served", or "order
// lookup failed" at ERROR), which carries the span's trace and span ID.
//
// Spans and log records record only while the controller's probe is
// attached (spanbridge run --target <this binary>); -wait-attach waits for
// it first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
)

const scope = "github.com/spanbridge/spanbridge/examples/hello"

var (
	tracer trace.Tracer
	logger *slog.Logger
)

func main() {
	rate := flag.Float64("rate", 5, "traces per second")
	duration := flag.Duration("duration", 0, "how long to run (0: until SIGINT or SIGTERM)")
	wait := flag.Duration("wait-attach", 0, "wait this long for the probe before starting (0: do not wait)")
	flag.Parse()
	if *rate <= 0 {
		log.Fatalf("hello: -rate %v is not positive", *rate)
	}

	otel.SetTracerProvider(sdk.TracerProvider())
	tracer = otel.Tracer(scope, trace.WithInstrumentationVersion("0.1.0"))
	logger = slog.New(otelslog.NewHandler(scope, otelslog.WithVersion("0.1.0"),
		otelslog.WithLoggerProvider(sdk.LoggerProvider())))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if *wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, *wait)
		attached := sdk.WaitAttached(wctx)
		cancel()
		log.Printf("hello: probe attached: %v", attached)
	}

	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()
	n := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			handle(context.Background(), n)
			n++
		}
	}
	// Hands off the spans and log records still in their batches.
	if err := sdk.Shutdown(context.Background()); err != nil {
		log.Printf("hello: %v", err)
	}
	fmt.Printf("hello: handled %d requests\n", n)
}

// handle simulates serving GET /orders/{id}.
func handle(ctx context.Context, n int) {
	id := 1000 + n%50
	// Before the span starts: a record outside any span.
	logger.InfoContext(ctx, "request received", "http.request.method", "GET", "url.path", fmt.Sprintf("/orders/%d", id))
	ctx, span := tracer.Start(ctx, "GET /orders/{id}", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.String("url.path", fmt.Sprintf("/orders/%d", id)),
			attribute.String("http.route", "/orders/{id}"),
		))
	defer span.End()

	var (
		wg     sync.WaitGroup
		cached bool
		err    error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		cached = cacheGet(ctx, id)
	}()
	go func() {
		defer wg.Done()
		err = queryOrder(ctx, id)
	}()
	wg.Wait()

	status := 200
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "order lookup failed")
		status = 500
		logger.ErrorContext(ctx, "order lookup failed", "order.id", id, "error", err)
	} else {
		render(ctx, cached)
		logger.InfoContext(ctx, "order served", "order.id", id, "cache.hit", cached)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
}

func cacheGet(ctx context.Context, id int) bool {
	_, span := tracer.Start(ctx, "cache.get", trace.WithAttributes(attribute.Int("order.id", id)))
	defer span.End()
	sleep(200*time.Microsecond, time.Millisecond)
	hit := rand.IntN(3) == 0
	span.SetAttributes(attribute.Bool("cache.hit", hit))
	return hit
}

func queryOrder(ctx context.Context, id int) error {
	_, span := tracer.Start(ctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", "postgresql"),
			attribute.String("db.query.text", "SELECT * FROM orders WHERE id = $1"),
		))
	defer span.End()
	sleep(time.Millisecond, 5*time.Millisecond)
	span.AddEvent("rows fetched", trace.WithAttributes(attribute.Int("db.response.returned_rows", 1)))
	if rand.IntN(20) == 0 {
		err := errors.New("connection reset by peer")
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("query order %d: %w", id, err)
	}
	return nil
}

func render(ctx context.Context, cached bool) {
	_, span := tracer.Start(ctx, "render", trace.WithAttributes(attribute.Bool("from_cache", cached)))
	defer span.End()
	sleep(100*time.Microsecond, 500*time.Microsecond)
}

// sleep waits a random time in [lo, hi).
func sleep(lo, hi time.Duration) {
	time.Sleep(lo + rand.N(hi-lo))
}
