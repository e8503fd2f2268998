// Package sdktest lets tests and benchmarks run the SDK's attached path
// without a kernel probe.
package sdktest

import (
	"sync"
	"testing"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Attach makes the SDK behave as if the controller's probe were attached and
// calls fn with every batch handed off (an OTLP TracesData message without
// the batch header the probe also carries, valid only during the call; fn
// must not call Flush or Shutdown), until detach is called. Spans started
// before Attach do not record. It is process-wide: tests that use it must
// not run in parallel with other tests of the SDK.
func Attach(fn func(batch []byte)) (detach func()) {
	return handoff.SetHook(func(b []byte) {
		if msg, ok := handoff.Payload(b); ok {
			fn(msg)
		}
	})
}

// Record attaches like Attach for the rest of the test and keeps a copy of
// every batch handed off. The returned function gives the batches so far,
// in order; it is safe to call while spans still end.
func Record(tb testing.TB) (batches func() [][]byte) {
	var (
		mu   sync.Mutex
		kept [][]byte
	)
	tb.Cleanup(Attach(func(b []byte) {
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
