package sdk

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// withSink sends p's batches to fn instead of the probe point.
func withSink(fn func(batch []byte)) Option {
	return optionFunc(func(c config) config { c.sink = fn; return c })
}

// recorder keeps copies of the batches handed to it.
type recorder struct {
	mu      sync.Mutex
	batches [][]byte
}

func (r *recorder) sink(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, append([]byte(nil), b...))
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches)
}

// spans decodes every batch and returns their spans in order.
func (r *recorder) spans(t testing.TB) []otlpSpan {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []otlpSpan
	for _, b := range r.batches {
		for _, rs := range decodeBatch(t, b).resourceSpans {
			for _, ss := range rs.scopes {
				out = append(out, ss.spans...)
			}
		}
	}
	return out
}

// attach makes the SDK see a probe for the rest of the test.
func attach(t testing.TB) {
	t.Cleanup(handoff.SetHook(nil))
}

// newTestProvider returns an attached provider recording its batches, shut
// down at the end of the test.
func newTestProvider(t testing.TB, opts ...Option) (*Provider, *recorder) {
	t.Helper()
	attach(t)
	r := &recorder{}
	p := NewTracerProvider(append([]Option{withSink(r.sink)}, opts...)...)
	shutdownAtEnd(t, p)
	return p, r
}

// shutdownAtEnd shuts p down when the test ends.
func shutdownAtEnd(t testing.TB, p *Provider) {
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// only returns the single span recorded, or fails.
func only(t testing.TB, p *Provider, r *recorder) otlpSpan {
	t.Helper()
	p.Flush()
	spans := r.spans(t)
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	return spans[0]
}

// attrMap returns kvs by key.
func attrMap(kvs []keyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.key] = kv.value
	}
	return m
}

// handled keeps the errors the SDK reports to the OpenTelemetry error
// handler.
var handled struct {
	mu   sync.Mutex
	errs []string
}

func TestMain(m *testing.M) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		handled.mu.Lock()
		defer handled.mu.Unlock()
		handled.errs = append(handled.errs, err.Error())
	}))
	os.Exit(m.Run())
}

// reported reports whether an error containing s was reported.
func reported(s string) bool {
	handled.mu.Lock()
	defer handled.mu.Unlock()
	for _, e := range handled.errs {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

// reportedCount counts the reported errors that contain s.
func reportedCount(s string) int {
	handled.mu.Lock()
	defer handled.mu.Unlock()
	n := 0
	for _, e := range handled.errs {
		if strings.Contains(e, s) {
			n++
		}
	}
	return n
}
