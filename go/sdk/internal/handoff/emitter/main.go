// Command emitter hands raw payloads to the probe point, for the probe's
// tests. It waits until a probe is attached (the SDK's first-instruction
// check), then calls handoff.Ended -count times with a payload of each of
// -sizes, in order, prints "sent N" (N payloads in all) and exits.
//
// Payload byte i of a payload of size s is (i*31 + s) & 0xff, so a test can
// check every byte it receives.
//
//	emitter -sizes 1,4096,65536 -count 10 -wait-attach 10s
//
// With -spans it ends spans through the SDK instead, each span a batch of
// its own (with its batch header and sequence): for each line N read from
// standard input it ends N spans (from -goroutines goroutines at once) and
// prints "sent N"; at the end of input it shuts the SDK down and exits. A
// test drives the phases of a run this way.
//
//	echo 100 | OTEL_SERVICE_NAME=x emitter -spans -goroutines 4
//
// With -logs it does the same with log records through the SDK's logger
// provider (batch header signal 2), each record a batch of its own: record
// i of a line has body "emit i", severity INFO and, for even i, the trace
// ID 0102...10 and span ID 1112...18 of a sampled span (odd ones are
// outside any span).
//
//	echo 100 | emitter -logs
//
// It exits with status 1 if no probe is attached within -wait-attach (0:
// do not wait), and 2 on bad flags.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

func main() {
	sizesFlag := flag.String("sizes", "1", "comma-separated payload sizes in bytes")
	count := flag.Int("count", 1, "how many times to send each size")
	wait := flag.Duration("wait-attach", 10*time.Second, "how long to wait for a probe (0: do not wait)")
	spans := flag.Bool("spans", false, "end spans through the SDK, one batch each, as many as each line of standard input says")
	logs := flag.Bool("logs", false, "emit log records through the SDK, one batch each, as many as each line of standard input says")
	goroutines := flag.Int("goroutines", 1, "with -spans or -logs: make each line's items from this many goroutines at once")
	flag.Parse()
	if *spans || *logs {
		if *goroutines < 1 || (*spans && *logs) {
			fmt.Fprintf(os.Stderr, "emitter: bad flags: -goroutines %d is below 1, or both -spans and -logs\n", *goroutines)
			os.Exit(2)
		}
		os.Exit(emitItems(*wait, *goroutines, *logs))
	}

	sizes, err := parseSizes(*sizesFlag)
	if err != nil || *count < 0 {
		fmt.Fprintf(os.Stderr, "emitter: bad flags: -sizes %q -count %d: %v\n", *sizesFlag, *count, err)
		os.Exit(2)
	}
	if *wait > 0 && !waitAttached(*wait) {
		fmt.Fprintf(os.Stderr, "emitter: no probe attached after %v\n", *wait)
		os.Exit(1)
	}
	payloads := make([][]byte, len(sizes))
	for i, size := range sizes {
		payloads[i] = payload(size)
	}
	sent := 0
	for range *count {
		for _, p := range payloads {
			handoff.Ended(p)
			sent++
		}
	}
	fmt.Printf("sent %d\n", sent)
}

// emitItems ends spans, or emits log records when logs is set, through the
// SDK as standard input says, from goroutines goroutines, and returns the
// exit status.
func emitItems(wait time.Duration, goroutines int, logs bool) int {
	tp := sdk.NewTracerProvider(sdk.WithMaxExportBatchSize(1))
	lp := sdk.NewLoggerProvider(sdk.WithMaxExportBatchSize(1))
	if wait > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		attached := sdk.WaitAttached(ctx)
		cancel()
		if !attached {
			fmt.Fprintf(os.Stderr, "emitter: no probe attached after %v\n", wait)
			return 1
		}
	}
	emit := func(int) {
		_, s := tp.Tracer("emitter").Start(context.Background(), "emit")
		s.End()
	}
	if logs {
		emit = logEmitter(lp.Logger("emitter"))
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "emitter: bad count %q on standard input\n", in.Text())
			return 2
		}
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				// Goroutine g makes items g, g+goroutines, ... of the n.
				for i := g; i < n; i += goroutines {
					emit(i)
				}
			})
		}
		wg.Wait()
		fmt.Printf("sent %d\n", n)
	}
	if err := errors.Join(tp.Shutdown(context.Background()), lp.Shutdown(context.Background())); err != nil {
		fmt.Fprintf(os.Stderr, "emitter: %v\n", err)
		return 1
	}
	return 0
}

// inSpan is the context of the span that the even log records are emitted
// in.
var inSpan = trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	SpanID:     trace.SpanID{17, 18, 19, 20, 21, 22, 23, 24},
	TraceFlags: trace.FlagsSampled,
}))

// logEmitter returns a function that emits record i through l.
func logEmitter(l log.Logger) func(i int) {
	return func(i int) {
		var r log.Record
		r.SetSeverity(log.SeverityInfo)
		r.SetBody(attribute.StringValue("emit " + strconv.Itoa(i)))
		ctx := context.Background()
		if i%2 == 0 {
			ctx = inSpan
		}
		l.Emit(ctx, r)
	}
}

// parseSizes parses a comma-separated list of non-negative sizes.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("parse size %q: %w", f, err)
		}
		if n < 0 {
			return nil, fmt.Errorf("size %d is negative", n)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// payload returns the deterministic payload of size bytes.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*31 + size)
	}
	return b
}

// waitAttached polls the probe point until a probe is there or d passes.
func waitAttached(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !handoff.Refresh() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
