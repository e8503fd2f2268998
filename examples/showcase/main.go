// Command showcase exercises every feature of the spanbridge Go SDK once,
// deterministically, and writes down what it made so that an end-to-end
// test can compare, span by span, with what an OTLP receiver got.
//
//	showcase -wait-attach 10s -record made.json
//
// It waits until the controller's probe is attached (exit status 1 if it is
// not within -wait-attach), makes its spans with explicit timestamps, flushes
// them, writes the record (to stdout without -record) and exits. It needs the
// default sampler and span limits, and refuses to run when
// OTEL_TRACES_SAMPLER or an OTEL_*_LIMIT variable is set.
//
// What it makes: nested spans across goroutines; every span kind; a
// WithNewRoot span; links given at start and added later, with attributes;
// events with timestamps, attributes and stack traces; RecordError with and
// without a stack trace; a panic recorded by a deferred End; SetStatus
// Error and Ok; SetName; every attribute type including slices, maps, bytes
// and the empty value; a span over the span bound with a value the SDK cannot cut, which it drops; a child of a remote parent with a trace state;
// a branch under a remote parent that is not sampled, which must not arrive;
// and two instrumentation scopes.
//
// # Record format
//
// The record is one JSON object. Trace and span IDs are lowercase hex,
// times are unix nanoseconds as decimal strings, enums are OTLP numbers, and
// attribute values use the OTLP/JSON AnyValue form.
//
//	{
//	  "resource": {"telemetry.sdk.name": "spanbridge", ...},
//	      // string attributes the resource must have (it may have more)
//	  "spans": [ // every span that must arrive, once each
//	    {
//	      "name": "request",
//	      "traceId": "32 hex", "spanId": "16 hex",
//	      "parentSpanId": "16 hex, or \"\" for a root",
//	      "traceState": "w3c tracestate, or \"\"",
//	      "flags": 259,       // OTLP Span.flags: the W3C flags | 0x100, | 0x200 for a remote parent
//	      "kind": 2,          // 1 internal, 2 server, 3 client, 4 producer, 5 consumer
//	      "scope": {"name": "...", "version": "...", "schemaUrl": "...", "attributes": [KeyValue]},
//	      "startTimeUnixNano": "1700000000000000000",
//	      "endTimeUnixNano": "1700000000000000000",
//	      "attributes": [KeyValue], // in order
//	      "droppedAttributesCount": 0,
//	      "events": [{
//	        "name": "...", "timeUnixNano": "...",
//	        "attributes": [KeyValue], "droppedAttributesCount": 0,
//	        "presentKeys": ["exception.stacktrace"]
//	            // attributes whose values cannot be known here (stack traces):
//	            // they must be present with a non-empty string value, after
//	            // the listed attributes
//	      }],
//	      "droppedEventsCount": 0,
//	      "links": [{
//	        "traceId": "...", "spanId": "...", "traceState": "", "flags": 257,
//	        "attributes": [KeyValue], "droppedAttributesCount": 0
//	      }],
//	      "droppedLinksCount": 0,
//	      "status": {"code": 0, "message": ""} // 0 unset, 1 ok, 2 error
//	    }
//	  ],
//	  "mustNotArrive": [{"name": "...", "traceId": "...", "spanId": "..."}]
//	}
//
// KeyValue is {"key": "k", "value": AnyValue}; AnyValue is one of
// {"stringValue": "s"}, {"boolValue": true}, {"intValue": "-42"},
// {"doubleValue": 1.5}, {"bytesValue": "base64"},
// {"arrayValue": {"values": [AnyValue]}},
// {"kvlistValue": {"values": [KeyValue]}} (keys sorted), or {} (empty).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
)

func main() {
	wait := flag.Duration("wait-attach", 10*time.Second, "how long to wait for the probe")
	out := flag.String("record", "", "write the record of the spans to this file (default: stdout)")
	linger := flag.Duration("linger", 0, "how long to keep running after the spans are handed over, as a service would")
	flag.Parse()
	if err := run(*wait, *out); err != nil {
		fmt.Fprintf(os.Stderr, "showcase: %v\n", err)
		os.Exit(1)
	}
	time.Sleep(*linger)
}

func run(wait time.Duration, out string) error {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "OTEL_TRACES_SAMPLER" || (strings.HasPrefix(k, "OTEL_") && strings.HasSuffix(k, "_LIMIT")) {
			return fmt.Errorf("%s is set: the record assumes the default sampler and limits", k)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	attached := sdk.WaitAttached(ctx)
	cancel()
	if !attached {
		return fmt.Errorf("no probe attached after %v", wait)
	}

	r := newRecorder(time.Now())
	makeSpans(r)
	sdk.Flush()

	b, err := json.MarshalIndent(r.record(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	b = append(b, '\n')
	if out == "" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(out, b, 0o644)
	}
	if err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return sdk.Shutdown(context.Background())
}

// makeSpans makes every span of the showcase.
func makeSpans(r *recorder) {
	mainTracer := r.tracer("github.com/spanbridge/spanbridge/examples/showcase",
		trace.WithInstrumentationVersion("0.1.0"),
		trace.WithSchemaURL(semconv.SchemaURL),
		trace.WithInstrumentationAttributes(attribute.String("showcase.scope", "main")))
	worker := r.tracer("github.com/spanbridge/spanbridge/examples/showcase/worker")

	// A server span with every attribute type, an event, and status Ok.
	ctx, req := r.start(mainTracer, context.Background(), "request", 0, 100, startOpts{
		kind: trace.SpanKindServer,
		attrs: []attribute.KeyValue{
			attribute.String("string", "héllo"),
			attribute.String("empty.string", ""),
			attribute.Bool("bool", true),
			attribute.Int64("int", -42),
			attribute.Float64("double", 2.5),
			attribute.StringSlice("string.slice", []string{"a", "b", ""}),
			attribute.BoolSlice("bool.slice", []bool{true, false}),
			attribute.Int64Slice("int.slice", []int64{1, -2, 3}),
			attribute.Float64Slice("double.slice", []float64{0.5, -1.25}),
			attribute.ByteSlice("bytes", []byte{0, 1, 2, 254, 255}),
			{Key: "mixed.slice", Value: attribute.SliceValue(attribute.IntValue(1), attribute.StringValue("two"), attribute.BoolValue(false))},
			{Key: "map", Value: attribute.MapValue(attribute.String("z", "last"), attribute.Int("a", 1))},
			{Key: "empty.value", Value: attribute.Value{}},
		},
	})
	r.setAttributes(req, attribute.Int("http.response.status_code", 200))
	r.event(req, "accepted", 1, attribute.String("peer", "10.0.0.1"))
	r.setStatus(req, codes.Error, "transient")
	r.setStatus(req, codes.Ok, "ignored description")

	// Children in goroutines: every other span kind, errors, SetName.
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		_, db := r.start(worker, ctx, "SELECT users", 10, 40, startOpts{kind: trace.SpanKindClient,
			attrs: []attribute.KeyValue{attribute.String("db.system.name", "postgresql")}})
		r.recordError(db, 20, errors.New("deadlock detected"), "*errors.errorString", false)
		r.recordError(db, 30, &queryError{table: "users"}, "*main.queryError", true)
		r.setStatus(db, codes.Error, "query failed")
		r.end(db)
	}()
	go func() {
		defer wg.Done()
		_, c := r.start(worker, ctx, "cache", 5, 8, startOpts{})
		r.setName(c, "cache.lookup")
		r.stackEvent(c, "checkpoint", 6)
		r.end(c)
	}()
	go func() {
		defer wg.Done()
		pctx, pub := r.start(mainTracer, ctx, "publish orders", 50, 55, startOpts{kind: trace.SpanKindProducer})
		r.end(pub)
		// The consumer starts a new trace linked to the producer.
		_, con := r.start(worker, pctx, "consume orders", 60, 70, startOpts{
			kind: trace.SpanKindConsumer, newRoot: true,
			links: []trace.Link{{SpanContext: pub.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("link.reason", "message")}}},
		})
		r.end(con)
	}()
	wg.Wait()

	// A new root under the request's context, linked back afterwards.
	_, audit := r.start(mainTracer, ctx, "audit", 80, 90, startOpts{newRoot: true})
	r.addLink(audit, trace.Link{SpanContext: req.SpanContext(), Attributes: []attribute.KeyValue{attribute.Bool("link.after_start", true)}})
	r.end(audit)

	// A span over the span bound (the default 256 KiB batch less header
	// room): its largest value is a number slice, which cannot be cut, so
	// the SDK drops it.
	_, up := r.start(mainTracer, ctx, "upload", 91, 95, startOpts{attrs: []attribute.KeyValue{
		attribute.String("upload.id", "u-1"),
		attribute.Float64Slice("upload.samples", make([]float64, 30_000)), // about 330 KB encoded
		attribute.Int("upload.size", 30_000),
	}})
	r.expectDropped(up, "upload.samples")
	r.end(up)

	// A handler that panics: its deferred End records the panic, which goes
	// on to the caller's recover.
	func() {
		defer func() { _ = recover() }()
		_, h := r.start(worker, ctx, "handler", 96, 99, startOpts{})
		defer h.End(r.endPanicking(h, "out of stock")...)
		panic("out of stock")
	}()
	r.end(req)

	// A child of a sampled remote parent with a trace state.
	state, err := trace.ParseTraceState("vendor=opaque,other=1")
	if err != nil {
		panic(err)
	}
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled, TraceState: state, Remote: true,
	})
	rctx := trace.ContextWithRemoteSpanContext(context.Background(), remote)
	_, rc := r.start(mainTracer, rctx, "remote child", 100, 110, startOpts{kind: trace.SpanKindServer})
	r.end(rc)

	// A remote parent that is not sampled: nothing of this branch arrives.
	unsampled := remote.WithTraceFlags(0).WithSpanID(trace.SpanID{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11})
	uctx, u := r.start(mainTracer, trace.ContextWithRemoteSpanContext(context.Background(), unsampled), "unsampled", 120, 130, startOpts{kind: trace.SpanKindServer})
	_, uc := r.start(mainTracer, uctx, "unsampled child", 121, 125, startOpts{})
	r.end(uc)
	r.end(u)
}

type queryError struct{ table string }

func (e *queryError) Error() string { return "query on " + e.table + " failed" }
