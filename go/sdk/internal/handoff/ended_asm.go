//go:build amd64 || arm64

package handoff

// ended is the probe point. The controller attaches a uprobe to the first
// instruction of its assembly body and copies batch into a BPF ring buffer;
// the function itself does nothing.
//
//go:noescape
func ended(batch []byte)

// head returns the first eight bytes of ended's assembly body (not of a Go
// wrapper) as a little-endian word: its NOP and its RET, which is what a
// uprobe overwrites.
func head() uint64
