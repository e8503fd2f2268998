package sdk

import (
	"context"
	"encoding/binary"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestSamplerFromEnv(t *testing.T) {
	tests := []struct {
		sampler, arg string
		want         Sampler
	}{
		{"", "", ParentBased(AlwaysSample())},
		{"always_on", "", AlwaysSample()},
		{"always_off", "", NeverSample()},
		{"traceidratio", "0.25", TraceIDRatioBased(0.25)},
		{"traceidratio", "", AlwaysSample()},
		{"traceidratio", "2", AlwaysSample()},
		{"traceidratio", "nope", AlwaysSample()},
		{"parentbased_always_on", "", ParentBased(AlwaysSample())},
		{"parentbased_always_off", "", ParentBased(NeverSample())},
		{"parentbased_traceidratio", "0.5", ParentBased(TraceIDRatioBased(0.5))},
		{" ParentBased_TraceIDRatio ", "0", ParentBased(NeverSample())},
		{"jaeger_remote", "", ParentBased(AlwaysSample())},
	}
	for _, tt := range tests {
		t.Run(tt.sampler+"/"+tt.arg, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", tt.sampler)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", tt.arg)
			if got := samplerFromEnv(); got.Description() != tt.want.Description() {
				t.Errorf("samplerFromEnv() = %s, want %s", got.Description(), tt.want.Description())
			}
		})
	}
}

// sampled asks s through ShouldSample, as a custom sampler is asked, and
// checks that the fast path decides alike.
func isSampled(s Sampler, parent trace.SpanContext, id trace.TraceID) bool {
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	d := s.ShouldSample(SamplingParameters{ParentContext: ctx, TraceID: id}).Decision
	if f := asFast(s); f != nil && f.decide(parent, id) != d {
		panic("fast and slow sampling paths disagree")
	}
	return d == RecordAndSample
}

func TestSamplerRatio(t *testing.T) {
	s := TraceIDRatioBased(0.25)
	const n = 20000
	sampled := 0
	for range n {
		if isSampled(s, trace.SpanContext{}, newTraceID()) {
			sampled++
		}
	}
	if sampled < n*0.22 || sampled > n*0.28 {
		t.Errorf("ratio 0.25 sampled %d of %d", sampled, n)
	}
	// The decision depends on the trace ID's random low 56 bits only.
	var lo, hi trace.TraceID
	binary.BigEndian.PutUint64(lo[8:], 0xff00_0000_0000_0001)
	binary.BigEndian.PutUint64(hi[8:], 0x00ff_ffff_ffff_ffff)
	if !isSampled(s, trace.SpanContext{}, lo) || isSampled(s, trace.SpanContext{}, hi) {
		t.Error("ratio sampler does not follow the trace ID's low 56 bits")
	}
}

func TestSamplerParentBased(t *testing.T) {
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	unsampled := sampled.WithTraceFlags(0)
	tests := []struct {
		name    string
		s       Sampler
		parent  trace.SpanContext
		sampled bool
	}{
		{"pb on, no parent", ParentBased(AlwaysSample()), trace.SpanContext{}, true},
		{"pb off, no parent", ParentBased(NeverSample()), trace.SpanContext{}, false},
		{"pb off, sampled parent", ParentBased(NeverSample()), sampled, true},
		{"pb on, unsampled parent", ParentBased(AlwaysSample()), unsampled, false},
		{"pb on, unsampled remote parent", ParentBased(AlwaysSample()), unsampled.WithRemote(true), false},
		{"always on ignores parent", AlwaysSample(), unsampled, true},
		{"never ignores parent", NeverSample(), sampled, false},
	}
	for _, tt := range tests {
		if got := isSampled(tt.s, tt.parent, trace.TraceID{9}); got != tt.sampled {
			t.Errorf("%s: sampled %v, want %v", tt.name, got, tt.sampled)
		}
	}
}

func TestUnsampledSpansDoNotRecordAndPropagate(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{7}, SpanID: trace.SpanID{8}, Remote: true,
	})
	ctx, s := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "unsampled")
	if s.IsRecording() {
		t.Fatal("child of an unsampled parent records")
	}
	sc := s.SpanContext()
	if sc.TraceID() != remote.TraceID() || sc.SpanID() == remote.SpanID() || !sc.SpanID().IsValid() || sc.IsSampled() {
		t.Errorf("unsampled span context %v, want trace %s, a new span ID, not sampled", sc, remote.TraceID())
	}
	_, c := tr.Start(ctx, "grandchild")
	if c.IsRecording() || c.SpanContext().TraceID() != remote.TraceID() {
		t.Error("grandchild of an unsampled parent records or changed trace")
	}
	c.End()
	s.End()

	never, rn := newTestProvider(t, WithSampler(NeverSample()))
	_, n := never.Tracer("test").Start(context.Background(), "root")
	if n.IsRecording() || !n.SpanContext().IsValid() || n.SpanContext().IsSampled() {
		t.Errorf("NeverSample root: recording %v, context %v", n.IsRecording(), n.SpanContext())
	}
	n.End()
	p.Flush()
	never.Flush()
	if r.count()+rn.count() != 0 {
		t.Error("unsampled spans were handed off")
	}
}
