// Command halves makes one half of each of -traces traces, so that two of
// it (-role front and -role back, in two pods traced by the agent) make
// traces whose spans come from two programs, for the tail-sampling test
// (tests/kubernetes/cluster_test.ts). Trace i has the trace id of the
// first 16 bytes of sha256(-seed, i) in both programs, under a remote
// parent both share: the front span is "GET /", the back span "SELECT".
// The first -errors traces fail in the back half only (status Error); the
// next -slow traces last 2 s in the front half only (timestamps, not
// sleeps); the rest are ordinary (10 ms). Every span carries halves.kind.
// It waits for the probe (-wait-attach), makes its spans, flushes and
// exits.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
)

func main() {
	role := flag.String("role", "front", "front or back: which half of every trace")
	traces := flag.Int("traces", 880, "traces to make a half of")
	errs := flag.Int("errors", 40, "traces, first, whose back half fails")
	slow := flag.Int("slow", 40, "traces, next, whose front half lasts 2 s")
	seed := flag.String("seed", "halves", "what the trace ids derive from (the same in both halves)")
	wait := flag.Duration("wait-attach", 60*time.Second, "how long to wait for the probe")
	flag.Parse()
	if *role != "front" && *role != "back" {
		log.Fatalf("halves: -role %q: want front or back", *role)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	attached := sdk.WaitAttached(ctx)
	cancel()
	if !attached {
		log.Fatalf("halves: the probe did not attach within %s", *wait)
	}
	tracer := sdk.TracerProvider().Tracer("halves")
	t0 := time.Now()
	for i := range *traces {
		sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(*seed), uint64(i)))
		parent := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID(sum[:16]),
			SpanID:     trace.SpanID(sum[16:24]),
			TraceFlags: trace.FlagsSampled,
			Remote:     true,
		})
		kind := "ordinary"
		switch {
		case i < *errs:
			kind = "error"
		case i < *errs+*slow:
			kind = "slow"
		}
		name, length := "GET /", 10*time.Millisecond
		if *role == "back" {
			name, length = "SELECT", 5*time.Millisecond
		} else if kind == "slow" {
			length = 2 * time.Second
		}
		start := t0.Add(time.Duration(i) * time.Millisecond)
		_, span := tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), name,
			trace.WithTimestamp(start),
			trace.WithAttributes(attribute.String("halves.kind", kind), attribute.Int("halves.index", i)))
		if *role == "back" && kind == "error" {
			span.SetStatus(codes.Error, "boom")
		}
		span.End(trace.WithTimestamp(start.Add(length)))
	}
	if err := sdk.Shutdown(context.Background()); err != nil {
		log.Fatalf("halves: flush: %v", err)
	}
	fmt.Printf("halves: %d %s spans\n", *traces, *role)
}
