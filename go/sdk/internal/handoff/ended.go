// Package handoff holds the probe point: the function whose first instruction
// the controller's uprobe sits on, and the check of whether it is there.
//
// # Probe contract
//
// The probe attaches to the first instruction of the assembly body of ended
// (func ended(batch []byte)), an ABI0 function: at entry the batch's data
// pointer is at SP+8 and its length at SP+16, on amd64 and arm64 alike (the
// return address is at SP on amd64; on arm64 it is in LR and SP+0 is the
// caller-reserved slot). The body starts with a NOP (amd64: the 5-byte
// 0f 1f 44 00 00, which kernels with optimized uprobes (6.18+) turn into a
// call; arm64: d503201f) followed by RET.
//
// The ELF symbol of that body, by Go version:
//
//   - Go 1.26 (measured, and the oldest Go that can build this module since
//     it requires OpenTelemetry v1.47): "github.com/spanbridge/spanbridge/go/sdk/internal/handoff.ended.abi0"
//     (the constant Symbol), measured without a wrapper; a wrapper, if one
//     were ever emitted, would take the plain name.
//   - Go 1.22-1.25 (if the module is ever built with them): the same name
//     with ".abi0" when the linker also emitted an ABIInternal wrapper (then
//     the plain name is the wrapper, not the probe point); without a wrapper
//     the body may carry the plain name "...handoff.ended".
//
// A probe should look for the ".abi0" name first, fall back to the plain
// name, and check that the first bytes are the NOP above. The SDK never
// takes ended's address as a Go func value, which would make the linker emit
// an ABIInternal wrapper.
package handoff

import (
	"sync"
	"sync/atomic"
	"time"
)

// Symbol is the ELF symbol of the probe point as Go 1.26 names it.
const Symbol = "github.com/spanbridge/spanbridge/go/sdk/internal/handoff.ended.abi0"

var (
	attached atomic.Bool
	hook     atomic.Pointer[func(batch []byte)]
	// refreshing orders Refresh calls: each reads and stores as a whole, so
	// the last read is the one Attached reports.
	refreshing sync.Mutex
	state      attachState
)

// Ended hands one encoded batch to the probe. It costs a few nanoseconds when
// no probe is attached. The probe copies batch before Ended returns, so the
// caller may reuse it afterwards.
func Ended(batch []byte) {
	if h := hook.Load(); h != nil {
		(*h)(batch)
	}
	ended(batch)
}

// Attached reports the attachment state seen by the last Refresh. It is one
// atomic load.
func Attached() bool { return attached.Load() }

// Refresh reads ended's first instruction again (or sees a hook set by
// SetHook), stores the result for Attached and returns it. A probe that
// appears while the process runs counts once it has been there for Settle.
func Refresh() bool {
	refreshing.Lock()
	defer refreshing.Unlock()
	now := hook.Load() != nil || state.observe(probed(head()), time.Now())
	if attached.Load() != now {
		// Store only on change: Attached is read on every span start, so the
		// cache line should stay shared.
		attached.Store(now)
	}
	return now
}

// SetHook makes Attached report true and has Ended call fn with every batch
// (valid only during the call; nil: none) until restore is called, which
// puts back the hook set before (so hooks nest, as subtests do). It is for
// tests and benchmarks that need the attached path without a kernel probe.
func SetHook(fn func(batch []byte)) (restore func()) {
	if fn == nil {
		fn = func([]byte) {}
	}
	prev := hook.Swap(&fn)
	Refresh()
	return func() {
		hook.CompareAndSwap(&fn, prev)
		Refresh()
	}
}
