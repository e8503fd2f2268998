package sdk

import (
	"context"
	"slices"
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
// non-recording with its own span ID, the sampled flag off and the parent's
// other trace flags; a root span made with the default ID generator carries
// the W3C random flag. A nil ctx counts as context.Background(), as in the
// OpenTelemetry Go SDK.
func (t *tracer) Start(ctx context.Context, name string, options ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx = orBackground(ctx)
	p := t.provider
	if !handoff.Attached() || p.stopped.Load() {
		return p.carryParent(ctx)
	}
	cfg := trace.NewSpanStartConfig(options...)
	parentCtx := ctx
	var parent trace.SpanContext
	if cfg.NewRoot() {
		if trace.SpanContextFromContext(ctx).IsValid() {
			parentCtx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
		}
	} else {
		parent = trace.SpanContextFromContext(ctx)
	}
	scc := trace.SpanContextConfig{TraceFlags: parent.TraceFlags()}
	switch {
	case parent.IsValid() && p.cfg.ids == nil:
		scc.TraceID, scc.SpanID = parent.TraceID(), newSpanID()
	case parent.IsValid():
		scc.TraceID = parent.TraceID()
		scc.SpanID = p.cfg.ids.NewSpanID(parentCtx, scc.TraceID)
	case p.cfg.ids == nil:
		scc.TraceID, scc.SpanID = newTraceID(), newSpanID()
		scc.TraceFlags = trace.FlagsRandom
	default:
		scc.TraceID, scc.SpanID = p.cfg.ids.NewIDs(parentCtx)
	}
	kind := trace.ValidateSpanKind(cfg.SpanKind())
	attrs := cfg.Attributes()
	var decision SamplingDecision
	if p.cfg.fast != nil {
		decision = p.cfg.fast.decide(parent, scc.TraceID)
		scc.TraceState = parent.TraceState()
	} else {
		res := p.cfg.sampler.ShouldSample(SamplingParameters{
			ParentContext: parentCtx, TraceID: scc.TraceID, Name: name,
			Kind: kind, Attributes: attrs, Links: cfg.Links(),
		})
		decision, scc.TraceState = res.Decision, res.Tracestate
		if len(res.Attributes) > 0 {
			// The start attributes override the sampler's.
			attrs = append(slices.Clone(res.Attributes), attrs...)
		}
	}
	scc.TraceFlags = scc.TraceFlags.WithSampled(decision == RecordAndSample)
	if decision == Drop {
		s := &nonRecordingSpan{sc: trace.NewSpanContext(scc), provider: p}
		return trace.ContextWithSpan(ctx, s), s
	}

	start := cfg.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	lim := &p.cfg.limits
	s := &span{tracer: t, sc: trace.NewSpanContext(scc), startTime: start}
	st := newState()
	st.data.sc = s.sc
	st.data.parentID = parent.SpanID()
	st.data.parentRemote = parent.IsRemote()
	st.data.kind = kind
	st.data.name = name
	st.data.start = start.UnixNano()
	var report dropKind
	st.data.attrs, st.data.droppedAttrs = addAttrs(attrs[:0], attrs, lim.AttributeCountLimit, lim)
	if st.data.droppedAttrs > 0 {
		report |= dropAttrs
	}
	for _, l := range cfg.Links() {
		if !keepLink(l) {
			continue
		}
		nl := p.newLink(l)
		if nl.dropped > 0 {
			report |= dropLinkAttrs
		}
		before := st.data.droppedLinks
		st.data.links, st.data.droppedLinks = addEvicting(st.data.links, st.data.droppedLinks, nl, lim.LinkCountLimit)
		if st.data.droppedLinks > before {
			report |= dropLinks
		}
	}
	report = st.note(report)
	s.st.Store(st)
	s.reportDrops(report, name)
	return trace.ContextWithSpan(ctx, s), s
}

// newLink copies l under the link attribute limits.
func (p *Provider) newLink(l trace.Link) link {
	lim := &p.cfg.limits
	nl := link{sc: l.SpanContext}
	if len(l.Attributes) > 0 {
		nl.attrs, nl.dropped = addAttrs(make([]attribute.KeyValue, 0, len(l.Attributes)), l.Attributes,
			lim.AttributePerLinkCountLimit, lim)
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

// orBackground returns ctx, or context.Background() when ctx is nil: a
// caller's nil context must not crash its program (context.WithValue and
// ctx.Done panic on nil).
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
