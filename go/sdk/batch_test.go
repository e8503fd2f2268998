package sdk

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

func TestBatchCountBound(t *testing.T) {
	p, r := newTestProvider(t, WithMaxExportBatchSize(10), WithBatchTimeout(time.Hour))
	tr := p.Tracer("test")
	for range 25 {
		_, s := tr.Start(context.Background(), "op")
		s.End()
	}
	if got := r.count(); got != 2 {
		t.Fatalf("%d batches before Flush, want 2 full ones", got)
	}
	p.Flush()
	if got := r.count(); got != 3 {
		t.Fatalf("%d batches after Flush, want 3", got)
	}
	if got := len(r.spans(t)); got != 25 {
		t.Errorf("%d spans, want 25", got)
	}
}

func TestBatchOneCallPerSpan(t *testing.T) {
	p, r := newTestProvider(t, WithMaxExportBatchSize(1))
	for range 3 {
		_, s := p.Tracer("test").Start(context.Background(), "op")
		s.End()
	}
	if got := r.count(); got != 3 {
		t.Errorf("%d batches, want one per span", got)
	}
}

func TestBatchByteBound(t *testing.T) {
	p, r := newTestProvider(t, WithBatchTimeout(time.Hour), WithMaxExportBatchSize(100000))
	tr := p.Tracer("test")
	value := strings.Repeat("x", 1000)
	const n = 1000 // about 1 MB of spans
	for range n {
		_, s := tr.Start(context.Background(), "op", trace.WithAttributes(attribute.String("v", value)))
		s.End()
	}
	p.Flush()
	r.mu.Lock()
	batches := len(r.batches)
	for i, b := range r.batches {
		if len(b) > DefaultMaxBatchBytes {
			t.Errorf("batch %d is %d bytes, over %d", i, len(b), DefaultMaxBatchBytes)
		}
		if i < len(r.batches)-1 && len(b) < DefaultMaxBatchBytes-2000 {
			t.Errorf("batch %d is %d bytes: sealed early", i, len(b))
		}
	}
	r.mu.Unlock()
	if batches < 4 || batches > 5 {
		t.Errorf("%d batches for ~1 MB, want 4 or 5", batches)
	}
	if got := len(r.spans(t)); got != n {
		t.Errorf("%d spans, want %d", got, n)
	}
}

func TestBatchTimeout(t *testing.T) {
	p, r := newTestProvider(t, WithBatchTimeout(20*time.Millisecond))
	_, s := p.Tracer("test").Start(context.Background(), "op")
	s.End()
	deadline := time.Now().Add(5 * time.Second)
	for r.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r.count() != 1 {
		t.Fatal("the batch was not handed off after its timeout")
	}
}

func TestBatchFromEnv(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "250")
	t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "7")
	t.Setenv("SPANBRIDGE_MAX_BATCH_BYTES", "1048576")
	cfg := newConfig(nil)
	if cfg.batchTimeout != 250*time.Millisecond || cfg.maxBatchItems != 7 || cfg.maxBatchBytes != 1<<20 {
		t.Errorf("config %+v", cfg)
	}
	t.Setenv("SPANBRIDGE_MAX_BATCH_BYTES", "1000")
	t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "-1")
	cfg = newConfig(nil)
	if cfg.batchTimeout != DefaultBatchTimeout || cfg.maxBatchItems != DefaultMaxExportBatchSize || cfg.maxBatchBytes != DefaultMaxBatchBytes {
		t.Errorf("out-of-range values kept: %+v", cfg)
	}
	if !reported("max batch bytes 1000 is outside") {
		t.Error("an out-of-range value was not reported")
	}
}

func TestBatchGroupsByScope(t *testing.T) {
	p, r := newTestProvider(t)
	a := p.Tracer("a", trace.WithInstrumentationVersion("1.2.3"), trace.WithSchemaURL("https://example.com/schema"),
		trace.WithInstrumentationAttributes(attribute.String("scope.attr", "x")))
	b := p.Tracer("b")
	for _, tr := range []trace.Tracer{a, b, a} {
		_, s := tr.Start(context.Background(), "op")
		s.End()
	}
	p.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	scopes := map[string]scopeSpans{}
	for _, raw := range r.batches {
		td := decodeBatch(t, raw)
		if len(td.resourceSpans) != 1 || len(td.resourceSpans[0].scopes) != 1 {
			t.Fatalf("batch has %d resource spans, want 1 with one scope", len(td.resourceSpans))
		}
		ss := td.resourceSpans[0].scopes[0]
		scopes[ss.name] = ss
	}
	sa := scopes["a"]
	if len(sa.items) != 2 || sa.version != "1.2.3" || sa.schemaURL != "https://example.com/schema" || attrMap(sa.attrs)["scope.attr"] != "x" {
		t.Errorf("scope a: %+v", sa)
	}
	if sb := scopes["b"]; len(sb.items) != 1 || sb.version != "" || sb.schemaURL != "" {
		t.Errorf("scope b: %+v", sb)
	}
}

func TestBatchLargerBound(t *testing.T) {
	p, r := newTestProvider(t, WithMaxBatchBytes(1<<20), WithMaxExportBatchSize(100000), WithBatchTimeout(time.Hour))
	value := strings.Repeat("x", 1000)
	for range 500 { // about 500 KB
		_, s := p.Tracer("test").Start(context.Background(), "op", trace.WithAttributes(attribute.String("v", value)))
		s.End()
	}
	p.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) != 1 || len(r.batches[0]) <= DefaultMaxBatchBytes || len(r.batches[0]) > 1<<20 {
		t.Errorf("%d batches, first %d bytes; want one between 256 KiB and 1 MiB", len(r.batches), len(r.batches[0]))
	}
}

func TestOversizedHeadersLoseAttributes(t *testing.T) {
	big := strings.Repeat("r", maxHeaderBytes)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "huge="+big+",small=1")
	t.Setenv("OTEL_SERVICE_NAME", "svc")
	p, r := newTestProvider(t)
	tr := p.Tracer("scope", trace.WithInstrumentationAttributes(attribute.String("huge", big)))
	_, s := tr.Start(context.Background(), "op", trace.WithAttributes(attribute.String("big", strings.Repeat("s", spanBytesFor(DefaultMaxBatchBytes)))))
	s.End()
	p.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) != 1 || len(r.batches[0]) > DefaultMaxBatchBytes {
		t.Fatalf("%d batches", len(r.batches))
	}
	rs := decodeBatch(t, r.batches[0]).resourceSpans[0]
	// Kept: the SDK's attributes, service.name and the short process ones;
	// dropped: huge, small, process.runtime.description, .executable.path and .command_args.
	if m := attrMap(rs.resource); rs.dropped != 5 || m["service.name"] != "svc" || m["process.pid"] == nil || m["huge"] != nil {
		t.Errorf("resource %v dropped %d, want the SDK's, service.name and short process attributes, 5 dropped", m, rs.dropped)
	}
	if ss := rs.scopes[0]; ss.name != "scope" || len(ss.attrs) != 0 || ss.dropped != 1 {
		t.Errorf("scope %q attributes %v dropped %d", ss.name, ss.attrs, ss.dropped)
	}
	if !reported("dropping its attributes") || !reported("dropping 5 attributes") {
		t.Error("dropped header attributes were not reported")
	}
}

// Every batch starts with the batch header of bpf/ended.h, and the batches
// of all providers of the process are numbered by one sequence, in hand-off
// order, so the controller can count a process's lost batches.
func TestBatchesCarryTheProcessSequence(t *testing.T) {
	attach(t)
	r := &recorder{}
	a := NewTracerProvider(withSink(r.sink), WithMaxExportBatchSize(1))
	shutdownAtEnd(t, a)
	b := NewTracerProvider(withSink(r.sink), WithMaxExportBatchSize(1))
	shutdownAtEnd(t, b)
	for _, p := range []*Provider{a, b, a} {
		_, s := p.Tracer("seq").Start(context.Background(), "op")
		s.End()
	}
	if r.count() != 3 {
		t.Fatalf("%d batches, want 3", r.count())
	}
	var seqs []uint64
	for _, raw := range r.batches {
		if got := binary.LittleEndian.Uint32(raw); got != handoff.Magic {
			t.Fatalf("batch starts with %#x, want the magic %#x", got, uint32(handoff.Magic))
		}
		if raw[4] != handoff.Version || raw[5] != handoff.SignalTraces || raw[6]|raw[7] != 0 {
			t.Errorf("version, signal, flags = % x, want %d %d 0 0", raw[4:8], handoff.Version, handoff.SignalTraces)
		}
		seqs = append(seqs, binary.LittleEndian.Uint64(raw[8:]))
		decodeBatch(t, raw)
	}
	if seqs[1] != seqs[0]+1 || seqs[2] != seqs[0]+2 || seqs[0] == 0 {
		t.Errorf("sequences %v, want three consecutive numbers from 1 up", seqs)
	}
}
