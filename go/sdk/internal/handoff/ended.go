// Package handoff holds the probe point: the function whose first instruction
// the controller's uprobe sits on, and the check of whether it is there.
package handoff

// ended is the probe point. The controller attaches a uprobe to the first
// instruction of its assembly body and copies batch into a BPF ring buffer;
// the function itself does nothing. It is an ABI0 (assembly) function, so its
// arguments are on the stack at entry: the data pointer at SP+8 and the length
// at SP+16, on amd64 and arm64 alike. The symbol the probe uses is
// "github.com/spanbridge/spanbridge/go/sdk/internal/handoff.ended" (or the same name with the
// suffix ".abi0" when the linker also emitted an ABIInternal wrapper).
//
//go:noescape
func ended(batch []byte)

// endedAddr returns the address of ended's assembly body (not of a Go
// wrapper), so the SDK can read its first instruction to see whether a
// uprobe sits on it.
func endedAddr() uintptr

// Ended hands one encoded batch to the probe. It costs a few nanoseconds when
// no probe is attached.
func Ended(batch []byte) { ended(batch) }
