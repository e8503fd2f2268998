package sdk

import (
	"context"

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
	tracers   scopes[*tracer]
}

var _ trace.TracerProvider = (*Provider)(nil)

// NewTracerProvider returns a Provider with its own batches, configured
// from the environment and then opts. It starts a goroutine that hands off
// batches on time and refreshes the attach state; Shutdown stops it.
func NewTracerProvider(opts ...Option) *Provider {
	cfg := newConfig(opts)
	p := &Provider{cfg: cfg}
	p.configure(handoff.SignalTraces, &cfg)
	p.emptySpan = &nonRecordingSpan{provider: p}
	p.start(encodeResource(resourceAttrs()))
	return p
}

// Tracer returns the tracer of an instrumentation scope: name and the
// options' version, schema URL and attributes. The same scope gets the same
// tracer.
func (p *Provider) Tracer(name string, options ...trace.TracerOption) trace.Tracer {
	c := trace.NewTracerConfig(options...)
	return p.tracers.get(name, c.InstrumentationVersion(), c.SchemaURL(), c.InstrumentationAttributes(), func(scope []byte) *tracer {
		t := &tracer{provider: p, batch: newBatcher(&p.pipeline, scope)}
		p.addBatcher(t.batch)
		return t
	})
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
