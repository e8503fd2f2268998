package sdk

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

func TestDetachedSpansCarryTheParentAndEncodeNothing(t *testing.T) {
	r := &recorder{}
	p := NewTracerProvider(withSink(r.sink))
	shutdownAtEnd(t, p)
	if Attached() {
		t.Skip("a real probe is attached to the test binary")
	}
	tr := p.Tracer("test")

	ctx, root := tr.Start(context.Background(), "root", trace.WithAttributes(attribute.Int("a", 1)))
	if root.IsRecording() || root.SpanContext().IsValid() {
		t.Errorf("detached root: recording %v, context %v", root.IsRecording(), root.SpanContext())
	}
	if root.TracerProvider() != p {
		t.Error("detached span's TracerProvider is not its provider")
	}
	if ctx2, again := tr.Start(ctx, "again"); again != root || ctx2 != ctx {
		t.Error("a detached child of a detached span allocated a new span or context")
	}

	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	ctx = trace.ContextWithRemoteSpanContext(context.Background(), remote)
	ctx, child := tr.Start(ctx, "child")
	if child.IsRecording() || !child.SpanContext().Equal(remote) {
		t.Errorf("detached child carries %v, want the parent's %v", child.SpanContext(), remote)
	}
	if got := trace.SpanContextFromContext(ctx); !got.Equal(remote) {
		t.Errorf("context carries %v, want %v", got, remote)
	}
	child.AddEvent("e")
	child.End()
	root.End()
	p.Flush()
	if r.count() != 0 {
		t.Error("detached spans were handed off")
	}
}

func TestAttachDetectionFollowsTheHook(t *testing.T) {
	if handoff.Refresh() {
		t.Skip("a real probe is attached to the test binary")
	}
	r := &recorder{}
	p := NewTracerProvider(withSink(r.sink))
	shutdownAtEnd(t, p)

	restore := handoff.SetHook(nil)
	if !Attached() || !handoff.Attached() {
		t.Fatal("not attached with the hook set")
	}
	_, s := p.Tracer("test").Start(context.Background(), "op")
	if !s.IsRecording() {
		t.Error("span does not record while attached")
	}
	s.End()
	restore()
	if Attached() || handoff.Attached() {
		t.Fatal("still attached after the hook was removed")
	}
	_, s = p.Tracer("test").Start(context.Background(), "op")
	if s.IsRecording() {
		t.Error("span records while detached")
	}
	// Ended while attached, sealed after the probe went: held, not handed
	// off into nothing, and handed off once a probe is there again.
	p.Flush()
	if n := len(r.spans(t)); n != 0 {
		t.Fatalf("%d spans handed off with no probe attached", n)
	}
	defer handoff.SetHook(nil)()
	p.Flush()
	if len(r.spans(t)) != 1 {
		t.Error("the held span was not handed off once attached again")
	}
}

func TestHeldBatchesKeepTheNewestWithinTheBound(t *testing.T) {
	if handoff.Refresh() {
		t.Skip("a real probe is attached to the test binary")
	}
	var got [][]byte
	p := NewTracerProvider(withSink(func(b []byte) { got = append(got, slices.Clone(b)) }))
	shutdownAtEnd(t, p)
	const size = 1 << 20
	for i := range 6 {
		b := make([]byte, size)
		b[handoff.HeaderSize] = byte(i)
		handoff.PutHeader(b, handoff.SignalTraces)
		p.handOff(sealedBatch{data: b})
	}
	if len(got) != 0 {
		t.Fatalf("%d batches handed off with no probe attached", len(got))
	}
	defer handoff.SetHook(nil)()
	p.Flush()
	if want := maxHeldBytes / size; len(got) != want {
		t.Fatalf("handed off %d held batches, want the newest %d", len(got), want)
	}
	for i, b := range got {
		if first := 6 - maxHeldBytes/size; b[handoff.HeaderSize] != byte(first+i) {
			t.Errorf("held batch %d is batch %d, want %d (oldest first)", i, b[handoff.HeaderSize], first+i)
		}
	}
}

func TestWaitAttached(t *testing.T) {
	if handoff.Refresh() {
		t.Skip("a real probe is attached to the test binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if WaitAttached(ctx) {
		t.Fatal("WaitAttached reported a probe that is not there")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		attach(t)
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !WaitAttached(ctx) {
		t.Fatal("WaitAttached did not see the probe")
	}
}
