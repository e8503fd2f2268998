// Command app is the load program of `deno task bench`: it makes typical
// spans (5 attributes of mixed types, 1 event) with one tracer and prints one
// JSON object with what it measured on standard output.
//
// Cost mode (-mode cost) times -spans spans on one goroutine after a
// warm-up, with the tracer chosen by -tracer:
//
//	spanbridge  this SDK (attached or not, as the probe decides; batch size
//	            from OTEL_BSP_MAX_EXPORT_BATCH_SIZE)
//	otel        the OpenTelemetry Go SDK: BatchSpanProcessor + otlptracehttp
//	            to -endpoint
//	otel-blocking  the same with WithBlocking: End waits for room in the
//	            processor's queue instead of dropping the span
//	noop        the no-op tracer (trace/noop)
//
// With -logger, cost mode times -spans log records instead: the typical
// record (a message and 5 attributes, inside a span) written through
// log/slog, with the handler chosen by -logger:
//
//	spanbridge  the otelslog bridge over this SDK's LoggerProvider
//	otel        the otelslog bridge over the OpenTelemetry Go log SDK:
//	            BatchProcessor + otlploghttp to -endpoint's /v1/logs
//	noop        the otelslog bridge over the no-op LoggerProvider
//	slog-json   slog's JSON handler writing to a temporary file
//
// Rate mode (-mode rate) makes -rate records/s with this SDK for -duration
// over -goroutines goroutines, then flushes. -signals says what a record is:
// "spans" (the typical span), "logs" (the typical log record through slog
// and otelslog over this SDK's LoggerProvider) or "mixed" (every other
// record a log record, so half the rate each).
//
// -attach says what this SDK must see before timing starts: "probe" waits
// up to -wait for the controller's probe, "none" requires that no probe is
// attached. Exit status 3 means that state was not reached.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/spanbridge/spanbridge/go/sdk"
)

func main() {
	mode := flag.String("mode", "cost", "cost or rate")
	tracerName := flag.String("tracer", "spanbridge", "spanbridge, otel, otel-blocking or noop (cost mode)")
	attach := flag.String("attach", "none", "probe or none (spanbridge tracer)")
	wait := flag.Duration("wait", 20*time.Second, "how long to wait for the probe (-attach probe)")
	endpoint := flag.String("endpoint", "", "OTLP/HTTP traces URL (-tracer otel)")
	spans := flag.Int("spans", 1_000_000, "spans to time (cost mode)")
	warmup := flag.Int("warmup", 100_000, "spans made before timing (cost mode)")
	rate := flag.Float64("rate", 10_000, "spans per second over all goroutines (rate mode)")
	goroutines := flag.Int("goroutines", 2, "goroutines making spans (rate mode)")
	duration := flag.Duration("duration", 5*time.Second, "how long to make spans (rate mode)")
	loggerName := flag.String("logger", "", "time log records instead of spans: spanbridge, otel, noop or slog-json (cost mode)")
	signals := flag.String("signals", "spans", "what rate mode makes: spans, logs or mixed (half each)")
	flag.Parse()

	if *loggerName != "" {
		if *mode != "cost" {
			fail(2, fmt.Errorf("-logger needs -mode cost"))
		}
		logCost(*loggerName, *attach, *wait, *endpoint, *warmup, *spans)
		return
	}

	var exported atomic.Int64
	tp, shutdown, err := newProvider(*tracerName, *endpoint, &exported)
	if err != nil {
		fail(1, err)
	}
	if *tracerName == "spanbridge" {
		if err := awaitAttach(*attach, *wait); err != nil {
			fail(3, err)
		}
	}
	tr := tp.Tracer("github.com/spanbridge/spanbridge/bench/app")

	var out map[string]any
	switch *mode {
	case "cost":
		out = cost(tr, *warmup, *spans)
	case "rate":
		if *rate <= 0 || *goroutines < 1 {
			fail(2, fmt.Errorf("-rate %v and -goroutines %d must be positive", *rate, *goroutines))
		}
		emit, logShutdown, err := emitter(*signals, tr)
		if err != nil {
			fail(2, err)
		}
		out = steady(emit, *rate, *goroutines, *duration)
		if err := logShutdown(context.Background()); err != nil {
			fail(1, fmt.Errorf("shut down the logger provider: %w", err))
		}
	default:
		fail(2, fmt.Errorf("unknown -mode %q: use cost or rate", *mode))
	}
	start := time.Now()
	if err := shutdown(context.Background()); err != nil {
		fail(1, fmt.Errorf("shut down the tracer provider: %w", err))
	}
	out["shutdown_ms"] = float64(time.Since(start).Microseconds()) / 1000
	switch *tracerName {
	case "spanbridge":
		out["attached"] = sdk.Attached()
	case "otel", "otel-blocking":
		out["exported"] = exported.Load()
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(1, fmt.Errorf("write the result: %w", err))
	}
}

// newProvider makes the tracer provider of one mode and its shutdown. The
// OpenTelemetry SDK's exporter adds the spans it exported to exported.
func newProvider(name, endpoint string, exported *atomic.Int64) (trace.TracerProvider, func(context.Context) error, error) {
	switch name {
	case "spanbridge":
		p := sdk.NewTracerProvider()
		return p, p.Shutdown, nil
	case "noop":
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	case "otel", "otel-blocking":
		if endpoint == "" {
			return nil, nil, fmt.Errorf("-tracer %s needs -endpoint", name)
		}
		exp, err := otlptracehttp.New(context.Background(),
			otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithInsecure())
		if err != nil {
			return nil, nil, fmt.Errorf("create the OTLP exporter: %w", err)
		}
		var opts []sdktrace.BatchSpanProcessorOption
		if name == "otel-blocking" {
			opts = append(opts, sdktrace.WithBlocking())
		}
		p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(countingExporter{exp, exported}, opts...))
		return p, p.Shutdown, nil
	}
	return nil, nil, fmt.Errorf("unknown -tracer %q: use spanbridge, otel, otel-blocking or noop", name)
}

// countingExporter counts the spans its exporter delivered: the batch span
// processor drops spans when its queue is full, which makes it cheaper.
type countingExporter struct {
	sdktrace.SpanExporter
	n *atomic.Int64
}

func (e countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		e.n.Add(int64(len(spans)))
	}
	return err
}

// awaitAttach brings the SDK to the attach state the run asks for.
func awaitAttach(attach string, wait time.Duration) error {
	switch attach {
	case "none":
		// The probe of the run before may take a moment to leave the file
		// (its link is released after its controller exits).
		deadline := time.Now().Add(2 * time.Second)
		for sdk.Attached() {
			if time.Now().After(deadline) {
				return fmt.Errorf("a probe is attached, but this run needs none")
			}
			time.Sleep(50 * time.Millisecond)
		}
	case "probe":
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if !sdk.WaitAttached(ctx) {
			return fmt.Errorf("the SDK did not see the probe within %v", wait)
		}
	default:
		return fmt.Errorf("unknown -attach %q: use probe or none", attach)
	}
	return nil
}

// typicalSpan makes the span every mode measures: 5 attributes of mixed
// types and 1 event.
func typicalSpan(ctx context.Context, tr trace.Tracer, i int) {
	_, s := tr.Start(ctx, "GET /users/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", "GET"),
		attribute.String("url.path", "/users/42"),
		attribute.Int("http.response.status_code", 200),
		attribute.Float64("http.server.request.duration", 0.0042),
		attribute.Bool("cache.hit", i&1 == 0),
	))
	s.AddEvent("db.query", trace.WithAttributes(attribute.String("db.query.text", "SELECT * FROM users WHERE id = $1")))
	s.End()
}

// cost times n spans on this goroutine after warmup spans.
func cost(tr trace.Tracer, warmup, n int) map[string]any {
	ctx := context.Background()
	for i := range warmup {
		typicalSpan(ctx, tr, i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	start := time.Now()
	for i := range n {
		typicalSpan(ctx, tr, i)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	return map[string]any{
		"spans":           n,
		"ns_per_span":     float64(elapsed.Nanoseconds()) / float64(n),
		"cpu_ns_per_span": float64(cpu.Nanoseconds()) / float64(n),
		"allocs_per_span": float64(after.Mallocs-before.Mallocs) / float64(n),
		"bytes_per_span":  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
	}
}

// cpuTime is the user plus system CPU time of the whole process so far: the
// span-making goroutine, the SDK's own goroutines (an exporter's encoding
// and HTTP included), the garbage collector and, in system time, the
// uprobe's work in the kernel.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(1, fmt.Errorf("getrusage: %w", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// emit makes record i of a rate run (a span or a log record) and says
// whether it was a log record.
type emit func(i int) (log bool)

// emitter returns what rate mode makes for a -signals choice, and the
// shutdown of the logger provider it made (a no-op for spans).
func emitter(signals string, tr trace.Tracer) (emit, func(context.Context) error, error) {
	ctx := context.Background()
	span := func(i int) bool { typicalSpan(ctx, tr, i); return false }
	if signals == "spans" {
		return span, func(context.Context) error { return nil }, nil
	}
	if signals != "logs" && signals != "mixed" {
		return nil, nil, fmt.Errorf("unknown -signals %q: use spans, logs or mixed", signals)
	}
	logger, shutdown, err := newSlogLogger("spanbridge", "", nil)
	if err != nil {
		return nil, nil, err
	}
	record := func(i int) bool { typicalLog(logger, i); return true }
	if signals == "logs" {
		return record, shutdown, nil
	}
	return func(i int) bool {
		if i&1 == 0 {
			return span(i)
		}
		return record(i)
	}, shutdown, nil
}

// steady makes rate records/s over g goroutines for d; each goroutine
// catches up every millisecond to its share of the records due so far.
func steady(next emit, rate float64, g int, d time.Duration) map[string]any {
	per := rate / float64(g)
	start := time.Now()
	counts := make([][2]int, g) // spans, log records
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			var n [2]int
			for sent := 0; ; {
				elapsed := time.Since(start)
				if elapsed >= d {
					break
				}
				due := int(per * elapsed.Seconds())
				for ; sent < due; sent++ {
					if next(sent) {
						n[1]++
					} else {
						n[0]++
					}
				}
				time.Sleep(time.Millisecond)
			}
			counts[w] = n
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	spans, logs := 0, 0
	for _, c := range counts {
		spans += c[0]
		logs += c[1]
	}
	return map[string]any{
		"spans":         spans,
		"logs":          logs,
		"records":       spans + logs,
		"seconds":       elapsed.Seconds(),
		"spans_per_s":   float64(spans) / elapsed.Seconds(),
		"records_per_s": float64(spans+logs) / elapsed.Seconds(),
		"target_per_s":  rate,
		"goroutines":    g,
	}
}

// fail prints err and exits with code.
func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "bench app: %v\n", err)
	os.Exit(code)
}
