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
	return recorded(t, r, handoff.SignalTraces, decodeSpan)
}

// recorded decodes every batch, of signal, and returns their items in
// order.
func recorded[T any](t testing.TB, r *recorder, signal uint8, decodeItem func(testing.TB, []byte) T) []T {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []T
	for _, b := range r.batches {
		for _, rg := range decodeData(t, b, signal, decodeItem) {
			for _, sg := range rg.scopes {
				out = append(out, sg.items...)
			}
		}
	}
	return out
}

// attach makes the SDK see a probe for the rest of the test.
func attach(t testing.TB) {
	t.Cleanup(handoff.SetHook(nil))
}

// recording attaches the SDK for the rest of the test and returns a
// recorder with opts preceded by the option that sends batches to it.
func recording(t testing.TB, opts []Option) (*recorder, []Option) {
	attach(t)
	r := &recorder{}
	return r, append([]Option{withSink(r.sink)}, opts...)
}

// newTestProvider returns an attached provider recording its batches, shut
// down at the end of the test.
func newTestProvider(t testing.TB, opts ...Option) (*Provider, *recorder) {
	t.Helper()
	r, opts := recording(t, opts)
	p := NewTracerProvider(opts...)
	shutdownAtEnd(t, p)
	return p, r
}

// shutdownAtEnd shuts p (a tracer or logger provider) down when the test
// ends.
func shutdownAtEnd(t testing.TB, p interface{ Shutdown(context.Context) error }) {
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
	return single(t, r.spans(t), "spans")
}

// single returns the one element of items, or fails.
func single[T any](t testing.TB, items []T, what string) T {
	t.Helper()
	if len(items) != 1 {
		t.Fatalf("got %d %s, want 1", len(items), what)
	}
	return items[0]
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
