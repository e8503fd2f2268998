package sdk

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Provider is a trace.TracerProvider whose spans go to the probe. Most
// programs use the process-wide one, TracerProvider.
type Provider struct {
	embedded.TracerProvider
	pipeline

	cfg       config
	emptySpan *nonRecordingSpan

	mu      sync.Mutex
	tracers map[scopeKey]*tracer
}

var _ trace.TracerProvider = (*Provider)(nil)

// scopeKey identifies an instrumentation scope.
type scopeKey struct {
	name, version, schemaURL string
	attrs                    attribute.Distinct
}

// NewTracerProvider returns a Provider with its own batches, configured
// from the environment and then opts. It starts a goroutine that hands off
// batches on time and refreshes the attach state; Shutdown stops it.
func NewTracerProvider(opts ...Option) *Provider {
	cfg := newConfig(opts)
	p := &Provider{
		pipeline: pipeline{
			signal:        handoff.SignalTraces,
			batchTimeout:  cfg.batchTimeout,
			maxItems:      cfg.maxBatchItems,
			maxBatchBytes: cfg.maxBatchBytes,
			maxItemBytes:  cfg.maxItemBytes,
			sink:          cfg.sink,
		},
		cfg:     cfg,
		tracers: make(map[scopeKey]*tracer),
	}
	p.emptySpan = &nonRecordingSpan{provider: p}
	p.start(encodeResource(resourceAttrs()))
	return p
}

// Tracer returns the tracer of an instrumentation scope: name and the
// options' version, schema URL and attributes. The same scope gets the same
// tracer.
func (p *Provider) Tracer(name string, options ...trace.TracerOption) trace.Tracer {
	c := trace.NewTracerConfig(options...)
	set := c.InstrumentationAttributes()
	key := scopeKey{name: name, version: c.InstrumentationVersion(), schemaURL: c.SchemaURL(), attrs: set.Equivalent()}

	p.mu.Lock()
	t, ok := p.tracers[key]
	p.mu.Unlock()
	if ok {
		return t
	}
	// Encoded outside p.mu: an oversized scope is reported to the error
	// handler, which may well ask for a tracer itself.
	scope := encodeScope(key.name, key.version, key.schemaURL, set.ToSlice())
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.tracers[key]; ok {
		return t
	}
	t = &tracer{provider: p}
	t.batch = newBatcher(&p.pipeline, scope)
	p.tracers[key] = t
	p.addBatcher(t.batch)
	return t
}

// encodeScope returns the ScopeSpans.scope and .schema_url fields. A scope
// over maxHeaderBytes loses its attributes, counted as dropped.
func encodeScope(name, version, schemaURL string, attrs []attribute.KeyValue) []byte {
	enc := func(attrs []attribute.KeyValue, dropped int) []byte {
		b := appendScope(nil, name, version, attrs, dropped)
		if schemaURL != "" {
			b = appendString(b, scopeSpansSchemaURL, schemaURL)
		}
		return b
	}
	b := enc(attrs, 0)
	if len(b) > maxHeaderBytes {
		otel.Handle(fmt.Errorf("spanbridge: scope %q is %d bytes encoded, over the %d-byte limit; dropping its attributes",
			name, len(b), maxHeaderBytes))
		b = enc(nil, len(attrs))
	}
	if len(b) > maxHeaderBytes {
		otel.Handle(fmt.Errorf("spanbridge: scope name, version and schema URL are %d bytes encoded, over the %d-byte limit; dropping them",
			len(b), maxHeaderBytes))
		b = appendScope(nil, "", "", nil, len(attrs))
	}
	return b
}

// ForceFlush hands off every span that has ended (spec, trace SDK,
// ForceFlush), or fails when ctx ends first; the hand-off then still
// completes in the background. A nil ctx never ends.
func (p *Provider) ForceFlush(ctx context.Context) error { return p.forceFlush(ctx) }

// Flush hands off every span that has ended, before it returns: ForceFlush
// without a deadline.
func (p *Provider) Flush() { p.flush() }

// Shutdown flushes p and stops its goroutine; spans started afterwards do
// not record, and spans ending afterwards are not handed off. Later calls do
// nothing. It fails only if ctx ends first; a nil ctx never ends.
func (p *Provider) Shutdown(ctx context.Context) error {
	return p.shutdown(ctx, "tracer provider")
}
