package sdk

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// randomnessBits is how many low bits of a trace ID a ratio sampler reads:
// the W3C Trace Context level 2 random part (the rightmost 7 bytes).
const randomnessBits = 56

// Sampler decides whether a new span records and is sampled (spec, trace
// SDK, Sampler). It has the shape of go.opentelemetry.io/otel/sdk/trace's
// Sampler, so a sampler written for the OpenTelemetry Go SDK is ported by
// changing the import of its parameter and result types. ShouldSample runs
// on every span start while the probe is attached and must be safe for
// concurrent use.
type Sampler interface {
	// ShouldSample returns the decision for the span described by p.
	ShouldSample(p SamplingParameters) SamplingResult
	// Description names the sampler and its configuration.
	Description() string
}

// SamplingParameters describe the span a Sampler decides on.
type SamplingParameters struct {
	// ParentContext holds the parent span context, if any.
	ParentContext context.Context
	// TraceID is the new span's trace ID.
	TraceID trace.TraceID
	// Name is the span's name.
	Name string
	// Kind is the span's kind.
	Kind trace.SpanKind
	// Attributes are the attributes given at start. The sampler must not
	// change them.
	Attributes []attribute.KeyValue
	// Links are the links given at start.
	Links []trace.Link
}

// SamplingDecision is what a Sampler decides.
type SamplingDecision uint8

const (
	// Drop: the span does not record and is not sampled.
	Drop SamplingDecision = iota
	// RecordOnly: the span records but is not sampled, so it is not handed
	// to the probe.
	RecordOnly
	// RecordAndSample: the span records and is sampled.
	RecordAndSample
)

// SamplingResult is a Sampler's decision, the attributes it adds to the
// span and the TraceState the span carries.
type SamplingResult struct {
	// Decision is the decision.
	Decision SamplingDecision
	// Attributes are added to the span's start attributes.
	Attributes []attribute.KeyValue
	// Tracestate is the new span's TraceState; samplers that do not change
	// it return the parent's.
	Tracestate trace.TraceState
}

// parentTraceState returns the TraceState of the span context in ctx.
func parentTraceState(ctx context.Context) trace.TraceState {
	return trace.SpanContextFromContext(ctx).TraceState()
}

// ratioSampler samples a root span when the trace ID's low 56 bits are
// below threshold (0: never, 1<<56: always).
type ratioSampler struct {
	threshold   uint64
	description string
}

// ShouldSample decides from the trace ID alone.
func (s *ratioSampler) ShouldSample(p SamplingParameters) SamplingResult {
	return SamplingResult{Decision: s.decide(trace.SpanContext{}, p.TraceID), Tracestate: parentTraceState(p.ParentContext)}
}

// Description names the sampler.
func (s *ratioSampler) Description() string { return s.description }

var (
	alwaysOn  = &ratioSampler{threshold: 1 << randomnessBits, description: "AlwaysOnSampler"}
	alwaysOff = &ratioSampler{description: "AlwaysOffSampler"}
)

// AlwaysSample returns a Sampler that records and samples every span.
func AlwaysSample() Sampler { return alwaysOn }

// NeverSample returns a Sampler that drops every span.
func NeverSample() Sampler { return alwaysOff }

// TraceIDRatioBased returns a Sampler that samples the fraction of traces
// given by ratio (clamped to [0, 1]), deciding from the trace ID alone so
// that every participant decides alike.
func TraceIDRatioBased(ratio float64) Sampler {
	switch {
	case ratio >= 1:
		return AlwaysSample()
	case ratio <= 0 || math.IsNaN(ratio):
		return NeverSample()
	}
	return &ratioSampler{
		threshold:   uint64(ratio * (1 << randomnessBits)),
		description: fmt.Sprintf("TraceIDRatioBased{%g}", ratio),
	}
}

// parentBased follows the parent's sampled flag through four delegates and
// asks root for spans without a parent.
type parentBased struct {
	root, remoteSampled, remoteNotSampled, localSampled, localNotSampled Sampler
}

// ParentBasedOption sets one of ParentBased's delegates.
type ParentBasedOption func(*parentBased)

// WithRemoteParentSampled sets the sampler for spans whose parent is remote
// and sampled (default AlwaysSample).
func WithRemoteParentSampled(s Sampler) ParentBasedOption {
	return func(p *parentBased) { p.remoteSampled = s }
}

// WithRemoteParentNotSampled sets the sampler for spans whose parent is
// remote and not sampled (default NeverSample).
func WithRemoteParentNotSampled(s Sampler) ParentBasedOption {
	return func(p *parentBased) { p.remoteNotSampled = s }
}

// WithLocalParentSampled sets the sampler for spans whose parent is local
// and sampled (default AlwaysSample).
func WithLocalParentSampled(s Sampler) ParentBasedOption {
	return func(p *parentBased) { p.localSampled = s }
}

// WithLocalParentNotSampled sets the sampler for spans whose parent is local
// and not sampled (default NeverSample).
func WithLocalParentNotSampled(s Sampler) ParentBasedOption {
	return func(p *parentBased) { p.localNotSampled = s }
}

// ParentBased returns a Sampler that asks root for spans without a parent
// and, for the others, the delegate chosen by whether the parent is remote
// and sampled (spec, trace SDK, ParentBased).
func ParentBased(root Sampler, opts ...ParentBasedOption) Sampler {
	p := &parentBased{
		root:             root,
		remoteSampled:    AlwaysSample(),
		remoteNotSampled: NeverSample(),
		localSampled:     AlwaysSample(),
		localNotSampled:  NeverSample(),
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// ShouldSample asks the delegate for the parent found in p.ParentContext.
func (s *parentBased) ShouldSample(p SamplingParameters) SamplingResult {
	parent := trace.SpanContextFromContext(p.ParentContext)
	switch {
	case !parent.IsValid():
		return s.root.ShouldSample(p)
	case parent.IsRemote() && parent.IsSampled():
		return s.remoteSampled.ShouldSample(p)
	case parent.IsRemote():
		return s.remoteNotSampled.ShouldSample(p)
	case parent.IsSampled():
		return s.localSampled.ShouldSample(p)
	}
	return s.localNotSampled.ShouldSample(p)
}

// Description names the sampler and its delegates as the OpenTelemetry Go
// SDK does.
func (s *parentBased) Description() string {
	return fmt.Sprintf("ParentBased{root:%s,remoteParentSampled:%s,remoteParentNotSampled:%s,localParentSampled:%s,localParentNotSampled:%s}",
		s.root.Description(), s.remoteSampled.Description(), s.remoteNotSampled.Description(),
		s.localSampled.Description(), s.localNotSampled.Description())
}

// samplerFromEnv returns the sampler named by OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG, parentbased_always_on when unset. Unknown names and
// bad ratios are reported to the OpenTelemetry error handler.
func samplerFromEnv() Sampler {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	ratio := func() float64 {
		arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
		if arg == "" {
			return 1
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			otel.Handle(fmt.Errorf("spanbridge: OTEL_TRACES_SAMPLER_ARG=%q is not a ratio in [0, 1]; using 1", arg))
			return 1
		}
		return r
	}
	switch name {
	case "always_on":
		return AlwaysSample()
	case "always_off":
		return NeverSample()
	case "traceidratio":
		return TraceIDRatioBased(ratio())
	case "", "parentbased_always_on":
		return ParentBased(AlwaysSample())
	case "parentbased_always_off":
		return ParentBased(NeverSample())
	case "parentbased_traceidratio":
		return ParentBased(TraceIDRatioBased(ratio()))
	}
	otel.Handle(fmt.Errorf("spanbridge: OTEL_TRACES_SAMPLER=%q is not supported; using parentbased_always_on", name))
	return ParentBased(AlwaysSample())
}

// fastSampler is a Sampler built of this package's samplers only: it
// decides from the parent's span context and the trace ID, keeps the
// parent's TraceState and adds no attributes, so Start skips building the
// parameters and the context lookups of ShouldSample.
type fastSampler interface {
	decide(parent trace.SpanContext, traceID trace.TraceID) SamplingDecision
}

// asFast returns s as a fastSampler when it is one, else nil.
func asFast(s Sampler) fastSampler {
	switch s := s.(type) {
	case *ratioSampler:
		return s
	case *parentBased:
		for _, d := range []Sampler{s.root, s.remoteSampled, s.remoteNotSampled, s.localSampled, s.localNotSampled} {
			if asFast(d) == nil {
				return nil
			}
		}
		return s
	}
	return nil
}

// decide is ShouldSample's decision.
func (s *ratioSampler) decide(_ trace.SpanContext, traceID trace.TraceID) SamplingDecision {
	if binary.BigEndian.Uint64(traceID[8:])&(1<<randomnessBits-1) < s.threshold {
		return RecordAndSample
	}
	return Drop
}

// decide is ShouldSample's decision; every delegate is a fastSampler.
func (s *parentBased) decide(parent trace.SpanContext, traceID trace.TraceID) SamplingDecision {
	d := s.localNotSampled
	switch {
	case !parent.IsValid():
		d = s.root
	case parent.IsRemote() && parent.IsSampled():
		d = s.remoteSampled
	case parent.IsRemote():
		d = s.remoteNotSampled
	case parent.IsSampled():
		d = s.localSampled
	}
	return d.(fastSampler).decide(parent, traceID)
}
