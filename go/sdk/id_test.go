package sdk

import (
	"sync"
	"testing"
)

func TestIDsAreValidAndDistinct(t *testing.T) {
	var mu sync.Mutex
	seen := map[[16]byte]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				tid, sid := newTraceID(), newSpanID()
				if !tid.IsValid() || !sid.IsValid() {
					t.Error("invalid ID")
				}
				mu.Lock()
				if seen[tid] {
					t.Error("trace ID repeated")
				}
				seen[tid] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
