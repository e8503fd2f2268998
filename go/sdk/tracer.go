package sdk

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// tracer starts spans of one instrumentation scope and batches them.
type tracer struct {
	embedded.Tracer

	provider *Provider
	batch    *batcher
}

var _ trace.Tracer = (*tracer)(nil)

// Start starts a span, a child of the span in ctx unless WithNewRoot is
// given. While no probe is attached (or after Shutdown) it returns a
// non-recording span carrying the span context found in ctx, ignoring the
// options, as the no-op tracer does. A span the sampler drops is
// non-recording with its own span ID and the sampled flag off.
func (t *tracer) Start(ctx context.Context, name string, options ...trace.SpanStartOption) (context.Context, trace.Span) {
	p := t.provider
	if !handoff.Attached() || p.stopped.Load() {
		return p.carryParent(ctx)
	}
	cfg := trace.NewSpanStartConfig(options...)
	var parent trace.SpanContext
	if !cfg.NewRoot() {
		parent = trace.SpanContextFromContext(ctx)
	}
	scc := trace.SpanContextConfig{
		TraceID:    parent.TraceID(),
		SpanID:     newSpanID(),
		TraceState: parent.TraceState(),
	}
	if !parent.IsValid() {
		scc.TraceID = newTraceID()
	}
	if !p.cfg.sampler.sample(parent, scc.TraceID) {
		s := &nonRecordingSpan{sc: trace.NewSpanContext(scc), provider: p}
		return trace.ContextWithSpan(ctx, s), s
	}
	scc.TraceFlags = parent.TraceFlags().WithSampled(true)

	start := cfg.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	lim := &p.cfg.limits
	attrs := cfg.Attributes()
	s := &span{
		tracer:    t,
		startTime: start,
		data: spanData{
			sc:     trace.NewSpanContext(scc),
			parent: parent,
			kind:   trace.ValidateSpanKind(cfg.SpanKind()),
			name:   name,
			start:  start.UnixNano(),
		},
	}
	s.data.events = s.firstEvent[:0]
	s.data.attrs, s.data.droppedAttrs = addAttrs(attrs[:0], attrs, lim.AttributeCountLimit, lim.AttributeValueLengthLimit)
	for _, l := range cfg.Links() {
		if !l.SpanContext.IsValid() && len(l.Attributes) == 0 {
			continue
		}
		s.data.links, s.data.droppedLinks = addEvicting(s.data.links, s.data.droppedLinks, p.newLink(l), lim.LinkCountLimit)
	}
	return trace.ContextWithSpan(ctx, s), s
}

// newLink copies l under the link attribute limits.
func (p *Provider) newLink(l trace.Link) link {
	lim := &p.cfg.limits
	nl := link{sc: l.SpanContext}
	if len(l.Attributes) > 0 {
		nl.attrs, nl.dropped = addAttrs(make([]attribute.KeyValue, 0, len(l.Attributes)), l.Attributes,
			lim.AttributePerLinkCountLimit, lim.AttributeValueLengthLimit)
	}
	return nl
}

// carryParent returns ctx with a non-recording span carrying the span
// context in ctx. It allocates nothing when ctx already holds such a span of
// p, and no span when ctx holds none.
func (p *Provider) carryParent(ctx context.Context) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if s, ok := parent.(*nonRecordingSpan); ok && s.provider == p {
		return ctx, s
	}
	var s *nonRecordingSpan
	if sc := parent.SpanContext(); sc.IsValid() {
		s = &nonRecordingSpan{sc: sc, provider: p}
	} else {
		s = p.emptySpan
	}
	return trace.ContextWithSpan(ctx, s), s
}
