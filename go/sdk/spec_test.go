package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Conformance tests for rules of the OpenTelemetry specification; each
// names its section.

// Spec, common, Attribute "map" values: exported maps MUST contain only
// unique keys by default; the last value set wins. In span, event and link
// attributes alike.
func TestSpecCommonMapValuesHaveUniqueKeysLastWins(t *testing.T) {
	p, r := newTestProvider(t)
	m := attribute.Map("m", attribute.String("k", "first"), attribute.Int("n", 1), attribute.String("k", "last"),
		attribute.Map("inner", attribute.Bool("b", false), attribute.Bool("b", true)))
	_, s := p.Tracer("test").Start(context.Background(), "op", trace.WithLinks(trace.Link{
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}}),
		Attributes:  []attribute.KeyValue{m},
	}))
	s.SetAttributes(m)
	s.AddEvent("e", trace.WithAttributes(m))
	s.End()
	got := only(t, p, r)
	want := `[{inner [{b true}]} {k last} {n 1}]`
	for where, attrs := range map[string][]keyValue{"span": got.attrs, "event": got.events[0].attrs, "link": got.links[0].attrs} {
		if v := fmt.Sprint(attrMap(attrs)["m"]); v != want {
			t.Errorf("%s map attribute %s, want %s", where, v, want)
		}
	}
}

// Spec, trace API, Record Exception: attributes the caller passes take
// precedence over the generated exception.* ones.
func TestSpecRecordExceptionCallerAttributesWin(t *testing.T) {
	p, r := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), "op")
	s.RecordError(errors.New("raw"), trace.WithAttributes(
		attribute.String("exception.message", "redacted"), attribute.String("exception.type", "custom")))
	s.End()
	e := only(t, p, r).events[0]
	if m := attrMap(e.attrs); m["exception.message"] != "redacted" || m["exception.type"] != "custom" || len(m) != 2 {
		t.Errorf("exception attributes %v, want the caller's message and type", m)
	}
}

// Spec, trace API, Link: a link whose span context is invalid is still
// recorded when it has attributes or a non-empty TraceState, at Start and
// in AddLink.
func TestSpecLinkWithInvalidContextButTraceStateIsRecorded(t *testing.T) {
	p, r := newTestProvider(t)
	state := must1(trace.ParseTraceState("vendor=x"))
	invalid := trace.SpanContext{}.WithTraceState(state)
	_, s := p.Tracer("test").Start(context.Background(), "op", trace.WithLinks(
		trace.Link{SpanContext: invalid}, trace.Link{}))
	s.AddLink(trace.Link{SpanContext: invalid})
	s.AddLink(trace.Link{Attributes: []attribute.KeyValue{attribute.String("only", "attrs")}})
	s.AddLink(trace.Link{})
	s.End()
	got := only(t, p, r)
	if len(got.links) != 3 || got.links[0].traceState != "vendor=x" || got.links[1].traceState != "vendor=x" ||
		attrMap(got.links[2].attrs)["only"] != "attrs" {
		t.Errorf("links %+v, want the two TraceState-only links and the attributes-only one", got.links)
	}
}

// Spec, trace SDK, Sampling: a child the sampler drops keeps its parent's
// trace flags other than sampled (the W3C random flag survives), and a root
// span with random IDs sets the random flag (W3C Trace Context level 2).
func TestSpecDroppedChildKeepsParentFlagsRootIsRandom(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	_, root := tr.Start(context.Background(), "root")
	if f := root.SpanContext().TraceFlags(); !f.IsRandom() || !f.IsSampled() {
		t.Errorf("root flags %v, want sampled and random", f)
	}
	root.End()
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsRandom, Remote: true,
	})
	_, child := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "dropped")
	if child.IsRecording() || child.SpanContext().TraceFlags() != trace.FlagsRandom {
		t.Errorf("dropped child flags %v, want the parent's random flag only", child.SpanContext().TraceFlags())
	}
	child.End()
	if got := only(t, p, r); got.flags&0xff != 0x03 {
		t.Errorf("exported root flags %#x", got.flags)
	}
}

// Spec, trace SDK, Span Limits: an SDK SHOULD log a message once per span
// when a limit drops attributes, events or links.
func TestSpecLimitDropsReportedOncePerSpan(t *testing.T) {
	p, _ := newTestProvider(t, WithSpanLimits(SpanLimits{
		AttributeValueLengthLimit: -1, AttributeCountLimit: 1, EventCountLimit: 1, LinkCountLimit: 1,
		AttributePerEventCountLimit: 1, AttributePerLinkCountLimit: 1,
	}))
	name := fmt.Sprintf("limited-%d", time.Now().UnixNano())
	_, s := p.Tracer("test").Start(context.Background(), name)
	for range 3 {
		s.SetAttributes(attribute.Int("a", 1), attribute.Int("b", 2))
		s.AddEvent("e", trace.WithAttributes(attribute.Int("a", 1), attribute.Int("b", 2)))
	}
	s.End()
	for _, what := range []string{"dropping span attributes", "dropping events", "dropping event attributes"} {
		if n := reportedCount(fmt.Sprintf("span %q: limit reached, %s", name, what)); n != 1 {
			t.Errorf("%q reported %d times, want once", what, n)
		}
	}
}

// Spec, common, Attribute Limits: AttributeValueDepthLimit (default 64),
// from OTEL_SPAN_ATTRIBUTE_VALUE_DEPTH_LIMIT, else
// OTEL_ATTRIBUTE_VALUE_DEPTH_LIMIT: a slice or map value deeper than the
// limit (the top-level value is at depth 1) becomes empty.
func TestSpecAttributeValueDepthLimit(t *testing.T) {
	nested := func(depth int) attribute.Value {
		v := attribute.IntValue(7)
		for range depth {
			v = attribute.SliceValue(v)
		}
		return v
	}
	for _, tt := range []struct {
		env, value string
		limit      int
	}{
		{"", "", DefaultAttributeValueDepthLimit},
		{"OTEL_ATTRIBUTE_VALUE_DEPTH_LIMIT", "3", 3},
		{"OTEL_SPAN_ATTRIBUTE_VALUE_DEPTH_LIMIT", "2", 2},
	} {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(tt.env, tt.value)
			}
			if got := NewSpanLimits().AttributeValueDepthLimit; got != tt.limit {
				t.Fatalf("depth limit %d, want %d", got, tt.limit)
			}
			p, r := newTestProvider(t)
			_, s := p.Tracer("test").Start(context.Background(), "op", trace.WithAttributes(
				attribute.KeyValue{Key: "fits", Value: nested(tt.limit)},
				attribute.KeyValue{Key: "deep", Value: nested(tt.limit + 1)},
			))
			s.End()
			m := attrMap(only(t, p, r).attrs)
			depth := func(v any) int {
				d := 0
				for {
					vs, ok := v.([]any)
					if !ok {
						return d
					}
					d++
					if len(vs) == 0 {
						return d
					}
					v = vs[0]
				}
			}
			if got := fmt.Sprint(m["fits"]); !strings.Contains(got, "7") || depth(m["fits"]) != tt.limit {
				t.Errorf("value of depth %d became %v", tt.limit, got)
			}
			if got := fmt.Sprint(m["deep"]); strings.Contains(got, "7") || depth(m["deep"]) != tt.limit {
				t.Errorf("value of depth %d became %v, want its level %d empty", tt.limit+1, got, tt.limit+1)
			}
		})
	}
}

// markSampler is a custom sampler as the OpenTelemetry Go SDK's are
// written: it records "record-only" spans without sampling them and adds an
// attribute and a TraceState entry to the others.
type markSampler struct{}

func (markSampler) ShouldSample(p SamplingParameters) SamplingResult {
	ts := trace.SpanContextFromContext(p.ParentContext).TraceState()
	if p.Name == "record-only" {
		return SamplingResult{Decision: RecordOnly, Tracestate: ts}
	}
	ts, _ = ts.Insert("mark", "yes")
	return SamplingResult{Decision: RecordAndSample, Tracestate: ts,
		Attributes: []attribute.KeyValue{attribute.String("sampler", "mark"), attribute.String("k", "sampler")}}
}

func (markSampler) Description() string { return "markSampler" }

// Spec, trace SDK, Sampler: users supply their own sampler (decision,
// attributes, TraceState, description); ParentBased has remote and local
// delegates.
func TestSpecCustomSampler(t *testing.T) {
	p, r := newTestProvider(t, WithSampler(markSampler{}))
	tr := p.Tracer("test")
	_, only1 := tr.Start(context.Background(), "record-only")
	if !only1.IsRecording() || only1.SpanContext().IsSampled() {
		t.Error("a RecordOnly span must record and not be sampled")
	}
	only1.End()
	_, s := tr.Start(context.Background(), "op", trace.WithAttributes(attribute.String("k", "start")))
	if s.SpanContext().TraceState().Get("mark") != "yes" {
		t.Errorf("TraceState %v, want the sampler's", s.SpanContext().TraceState())
	}
	s.End()
	got := only(t, p, r) // the RecordOnly span is not handed off
	if m := attrMap(got.attrs); m["sampler"] != "mark" || m["k"] != "start" || got.traceState != "mark=yes" {
		t.Errorf("attributes %v TraceState %q, want the sampler's and the start value of k", m, got.traceState)
	}

	pb := ParentBased(AlwaysSample(), WithRemoteParentSampled(NeverSample()), WithLocalParentNotSampled(AlwaysSample()))
	for _, tt := range []struct {
		remote, sampled, want bool
	}{{true, true, false}, {true, false, false}, {false, true, true}, {false, false, true}} {
		flags := trace.TraceFlags(0).WithSampled(tt.sampled)
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: flags, Remote: tt.remote})
		if got := isSampled(pb, parent, trace.TraceID{2}); got != tt.want {
			t.Errorf("ParentBased delegates: remote %v sampled %v decided %v", tt.remote, tt.sampled, got)
		}
	}
	if d := pb.Description(); !strings.HasPrefix(d, "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOffSampler,") {
		t.Errorf("description %q", d)
	}
}

// seqIDs is a custom ID generator.
type seqIDs struct{}

func (seqIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	return trace.TraceID{0xaa, 1}, trace.SpanID{0xbb, 1}
}

func (seqIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return trace.SpanID{0xbb, 2} }

// Spec, trace SDK, Id Generators: the SDK MUST provide a way to customise
// the generation of IDs. Roots so made do not claim the random flag.
func TestSpecCustomIDGenerator(t *testing.T) {
	p, _ := newTestProvider(t, WithIDGenerator(seqIDs{}))
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	_, child := p.Tracer("test").Start(ctx, "child")
	if rc := root.SpanContext(); rc.TraceID() != (trace.TraceID{0xaa, 1}) || rc.SpanID() != (trace.SpanID{0xbb, 1}) || rc.IsRandom() {
		t.Errorf("root %v", rc)
	}
	if cc := child.SpanContext(); cc.TraceID() != (trace.TraceID{0xaa, 1}) || cc.SpanID() != (trace.SpanID{0xbb, 2}) {
		t.Errorf("child %v", cc)
	}
}

// Spec, trace SDK, ForceFlush: it hands off what ended and reports a
// deadline passed.
func TestSpecForceFlush(t *testing.T) {
	p, r := newTestProvider(t, WithBatchTimeout(time.Hour))
	_, s := p.Tracer("test").Start(context.Background(), "op")
	s.End()
	if err := p.ForceFlush(context.Background()); err != nil || r.count() != 1 {
		t.Fatalf("ForceFlush: %v, %d batches", err, r.count())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.ForceFlush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ForceFlush with an ended context: %v", err)
	}
}
