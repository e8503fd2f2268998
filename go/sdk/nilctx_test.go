package sdk

import (
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// A nil context counts as context.Background() everywhere the SDK takes
// one, as in the OpenTelemetry Go SDK: a tracing SDK must not crash its
// program. Each call below panicked before.
func TestNilContext(t *testing.T) {
	t.Run("Start detached", func(t *testing.T) {
		// Refresh, as the other detached tests do: Attached() is what the
		// last Refresh saw, which an earlier test's goroutine may have left.
		if handoff.Refresh() {
			t.Skip("a real probe is attached to the test binary")
		}
		p := NewTracerProvider(withSink(func([]byte) {}))
		shutdownAtEnd(t, p)
		ctx, s := p.Tracer("t").Start(nil, "detached")
		if ctx == nil || s.IsRecording() {
			t.Fatalf("got context %v and recording %v, want a context and a non-recording span", ctx, s.IsRecording())
		}
	})
	t.Run("Start attached", func(t *testing.T) {
		p, r := newTestProvider(t)
		ctx, s := p.Tracer("t").Start(nil, "root", trace.WithNewRoot())
		if trace.SpanFromContext(ctx) != s {
			t.Fatal("the returned context does not hold the span")
		}
		s.End()
		if got := only(t, p, r); got.name != "root" || len(got.parentSpanID) != 0 {
			t.Fatalf("got span %q with parent %x, want a root span named root", got.name, got.parentSpanID)
		}
	})
	t.Run("ForceFlush, WaitAttached and Shutdown", func(t *testing.T) {
		p, _ := newTestProvider(t)
		if err := p.ForceFlush(nil); err != nil {
			t.Fatal(err)
		}
		if !WaitAttached(nil) {
			t.Fatal("WaitAttached(nil) = false while attached")
		}
		if err := p.Shutdown(nil); err != nil {
			t.Fatal(err)
		}
	})
}
