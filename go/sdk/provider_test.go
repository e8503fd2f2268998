package sdk

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

func TestTracerIdentity(t *testing.T) {
	p, _ := newTestProvider(t)
	a := p.Tracer("x", trace.WithInstrumentationVersion("1"), trace.WithInstrumentationAttributes(attribute.Int("a", 1)))
	b := p.Tracer("x", trace.WithInstrumentationVersion("1"), trace.WithInstrumentationAttributes(attribute.Int("a", 1)))
	c := p.Tracer("x", trace.WithInstrumentationVersion("2"))
	d := p.Tracer("x", trace.WithSchemaURL("s"))
	if a != b {
		t.Error("the same scope got two tracers")
	}
	if a == c || c == d {
		t.Error("different scopes share a tracer")
	}
}

func TestProcessProvider(t *testing.T) {
	tp := TracerProvider()
	if tp != TracerProvider() {
		t.Fatal("TracerProvider is not a singleton")
	}
	otel.SetTracerProvider(tp)
	// The process-wide provider hands off to the probe point, where the
	// hook sees the batches.
	r := &recorder{}
	t.Cleanup(handoff.SetHook(r.sink))

	_, s := otel.Tracer("via-otel").Start(context.Background(), "op")
	if !s.IsRecording() {
		t.Fatal("span through otel.Tracer does not record")
	}
	s.End()
	Flush()
	if got := r.spans(t); len(got) != 1 || got[0].name != "op" {
		t.Errorf("spans %+v", got)
	}
}

func TestShutdown(t *testing.T) {
	p, r := newTestProvider(t)
	tr := p.Tracer("test")
	_, before := tr.Start(context.Background(), "before")
	_, open := tr.Start(context.Background(), "open")
	before.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if len(r.spans(t)) != 1 {
		t.Error("Shutdown did not flush the ended span")
	}
	open.End()
	_, after := tr.Start(context.Background(), "after")
	if after.IsRecording() {
		t.Error("span started after Shutdown records")
	}
	after.End()
	p.Flush()
	if len(r.spans(t)) != 1 {
		t.Error("spans ended after Shutdown were handed off")
	}
}

func TestShutdownContextEnded(t *testing.T) {
	p, _ := newTestProvider(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The goroutine may or may not have stopped first: either answer is
	// fine, but an error must say what failed.
	if err := p.Shutdown(ctx); err != nil && err.Error() != "spanbridge: shut down tracer provider: context canceled" {
		t.Errorf("Shutdown error %q", err)
	}
}

// An oversized scope is reported outside the provider's lock: an error
// handler that asks for a tracer must not deadlock.
func TestScopeReportOutsideTheProviderLock(t *testing.T) {
	p, _ := newTestProvider(t)
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		prev.Handle(err)
		p.Tracer("from the handler")
	}))
	defer otel.SetErrorHandler(prev)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Tracer("big", trace.WithInstrumentationAttributes(attribute.String("huge", strings.Repeat("h", maxHeaderBytes))))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Tracer deadlocked with an error handler that asks for a tracer")
	}
}
