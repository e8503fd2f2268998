// Package sdktest lets tests and benchmarks run the SDK's attached path
// without a kernel probe.
package sdktest

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Signals of the batch header (bpf/ended.h), for AttachSignal.
const (
	// Traces marks a batch holding an OTLP TracesData.
	Traces = handoff.SignalTraces
	// Logs marks a batch holding an OTLP LogsData.
	Logs = handoff.SignalLogs
)

// attachState is the process-wide state behind AttachSignal: one callback
// per signal and the one probe hook that calls them while any is set.
var attachState struct {
	mu      sync.Mutex
	fns     [handoff.SignalLogs + 1]atomic.Pointer[func([]byte)]
	users   int
	restore func()
}

// Attach makes the SDK behave as if the controller's probe were attached and
// calls fn with every traces batch handed off (an OTLP TracesData message
// without the batch header the probe also carries, valid only during the
// call; fn must not call Flush or Shutdown), until detach is called. Spans
// started before Attach do not record. It is process-wide: tests that use it
// must not run in parallel with other tests of the SDK.
func Attach(fn func(batch []byte)) (detach func()) { return AttachSignal(Traces, fn) }

// AttachSignal is Attach for the batches of one signal (Traces: TracesData,
// Logs: LogsData). A callback set for one signal stays in force for the
// others; one set again for the same signal replaces it until its detach,
// which gives the earlier one back (so attaching nests, as subtests do).
func AttachSignal(signal uint8, fn func(batch []byte)) (detach func()) {
	s := &attachState
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := &fn
	prev := s.fns[signal].Swap(cur)
	if s.users == 0 {
		s.restore = handoff.SetHook(dispatch)
	}
	s.users++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fns[signal].CompareAndSwap(cur, prev)
		if s.users--; s.users == 0 {
			s.restore()
			s.restore = nil
		}
	}
}

// dispatch gives a batch to the callback of its signal.
func dispatch(b []byte) {
	msg, signal, ok := handoff.Payload(b)
	if !ok || int(signal) >= len(attachState.fns) {
		return
	}
	if fn := attachState.fns[signal].Load(); fn != nil {
		(*fn)(msg)
	}
}

// Record attaches like Attach for the rest of the test and keeps a copy of
// every traces batch handed off. The returned function gives the batches so
// far, in order; it is safe to call while spans still end.
func Record(tb testing.TB) (batches func() [][]byte) { return RecordSignal(tb, Traces) }

// RecordSignal is Record for the batches of one signal (Traces, Logs).
func RecordSignal(tb testing.TB, signal uint8) (batches func() [][]byte) {
	var (
		mu   sync.Mutex
		kept [][]byte
	)
	tb.Cleanup(AttachSignal(signal, func(b []byte) {
		mu.Lock()
		defer mu.Unlock()
		kept = append(kept, append([]byte(nil), b...))
	}))
	return func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), kept...)
	}
}
