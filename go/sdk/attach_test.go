package sdk

import (
	"context"
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
	p.Flush()
	if len(r.spans(t)) != 1 {
		t.Error("the attached span was not handed off")
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
