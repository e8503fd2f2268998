package sdk

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Detached, a logger is disabled and Emit encodes nothing: a bridge that
// asks Enabled first (otelslog does) skips the record as with the no-op
// logger.
func TestDetachedLoggerIsDisabledAndEncodesNothing(t *testing.T) {
	if handoff.Refresh() {
		t.Skip("a real probe is attached to the test binary")
	}
	r := &recorder{}
	p := NewLoggerProvider(withSink(r.sink))
	defer func() { _ = p.Shutdown(context.Background()) }()
	l := p.Logger("test")
	if l.Enabled(context.Background(), log.EnabledParameters{Severity: log.SeverityFatal}) {
		t.Error("detached logger is enabled")
	}
	l.Emit(context.Background(), log.Record{})
	p.Flush()
	if r.count() != 0 || p.nHeld.Load() != 0 {
		t.Errorf("%d batches handed off, %d held while detached", r.count(), p.nHeld.Load())
	}
	if allocs := testing.AllocsPerRun(100, func() { l.Emit(context.Background(), log.Record{}) }); allocs != 0 {
		t.Errorf("detached Emit allocates %v times", allocs)
	}
}

// Log batches carry signal 2 in the batch header, and spans and logs of a
// process share one batch sequence.
func TestLogBatchesShareTheProcessSequenceWithSpans(t *testing.T) {
	attach(t)
	r := &recorder{}
	tp := NewTracerProvider(withSink(r.sink), WithMaxExportBatchSize(1))
	shutdownAtEnd(t, tp)
	lp := NewLoggerProvider(withSink(r.sink), WithMaxExportBatchSize(1))
	defer func() { _ = lp.Shutdown(context.Background()) }()
	_, s := tp.Tracer("seq").Start(context.Background(), "op")
	s.End()
	lp.Logger("seq").Emit(context.Background(), log.Record{})
	_, s = tp.Tracer("seq").Start(context.Background(), "op")
	s.End()
	if r.count() != 3 {
		t.Fatalf("%d batches, want 3", r.count())
	}
	var seqs []uint64
	for i, raw := range r.batches {
		want := uint8(handoff.SignalTraces)
		if i == 1 {
			want = handoff.SignalLogs
			decodeLogsBatch(t, raw)
		}
		if raw[5] != want {
			t.Errorf("batch %d has signal %d, want %d", i, raw[5], want)
		}
		seqs = append(seqs, binary.LittleEndian.Uint64(raw[8:]))
	}
	if seqs[1] != seqs[0]+1 || seqs[2] != seqs[0]+2 {
		t.Errorf("sequences %v, want consecutive across signals", seqs)
	}
}

// sdk.ForceFlush and sdk.Shutdown cover the process-wide logger provider.
// The test puts its own providers in the process-wide places and the real
// ones back afterwards, so that later tests still find them running.
func TestProcessLoggerProviderFlushedAndShutDown(t *testing.T) {
	attach(t)
	realTrace, realLog := processProvider(), processLogProvider()
	r := &recorder{}
	traceProvider = NewTracerProvider(withSink(r.sink))
	logProvider.Store(NewLoggerProvider(withSink(r.sink)))
	defer func() {
		traceProvider = realTrace
		logProvider.Store(realLog)
		shutDown.Store(false)
	}()
	if LoggerProvider() != log.LoggerProvider(logProvider.Load()) {
		t.Error("LoggerProvider is not the process-wide provider")
	}
	l := LoggerProvider().Logger("proc")
	l.Emit(context.Background(), log.Record{})
	if err := ForceFlush(context.Background()); err != nil || r.count() != 1 {
		t.Fatalf("ForceFlush: %v, %d log batches", err, r.count())
	}
	l.Emit(context.Background(), log.Record{})
	if err := Shutdown(context.Background()); err != nil || r.count() != 2 {
		t.Fatalf("Shutdown: %v, %d log batches", err, r.count())
	}
	if l.Enabled(context.Background(), log.EnabledParameters{}) {
		t.Error("the process-wide logger is enabled after sdk.Shutdown")
	}
}

// Goroutines emitting into one logger while batches are flushed hand off
// every record once.
func TestConcurrentEmitWhileFlushing(t *testing.T) {
	p, r := newTestLogProvider(t, WithMaxExportBatchSize(7))
	const goroutines, each = 16, 200
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
				p.Flush()
			}
		}
	}()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			l := p.Logger("conc")
			for range each {
				var rec log.Record
				rec.AddAttributes(attribute.Int("i", 1))
				l.Emit(context.Background(), rec)
			}
		})
	}
	wg.Wait()
	close(done)
	p.Flush()
	if got := len(r.records(t)); got != goroutines*each {
		t.Errorf("%d records, want %d", got, goroutines*each)
	}
}
