package sdk

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/otel/trace"
)

// IDGenerator makes trace and span IDs (spec, trace SDK, Id Generators). It
// has the shape of go.opentelemetry.io/otel/sdk/trace's IDGenerator, so a
// generator written for the OpenTelemetry Go SDK works unchanged. Its
// methods run on every span start and must be safe for concurrent use.
type IDGenerator interface {
	// NewIDs returns a new trace ID and span ID for a root span.
	NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID)
	// NewSpanID returns a new span ID for a span of traceID.
	NewSpanID(ctx context.Context, traceID trace.TraceID) trace.SpanID
}

// randomIDs is the default IDGenerator. Its IDs come from math/rand/v2's
// top-level functions: the runtime's per-thread ChaCha8 generator, randomly
// seeded, with no lock shared between threads. Its trace IDs are random in
// the W3C sense, so root spans carry the random trace flag.
type randomIDs struct{}

// NewIDs returns a random, valid trace ID and span ID.
func (randomIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	return newTraceID(), newSpanID()
}

// NewSpanID returns a random, valid span ID.
func (randomIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

// newTraceID returns a random, valid trace ID.
func newTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		binary.LittleEndian.PutUint64(id[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

// newSpanID returns a random, valid span ID.
func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.LittleEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}
