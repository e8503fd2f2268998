package handoff

import (
	"encoding/binary"
	"sync/atomic"
)

// The batch header (struct sb_batch_header in bpf/ended.h) that starts every
// batch handed to Ended. The probe copies it with the batch; the controller
// reads the process's batch sequence from it and counts the gaps as batches
// lost in the ring.
const (
	// HeaderSize is sizeof(struct sb_batch_header).
	HeaderSize = 16
	// Magic is SB_BATCH_MAGIC: its first byte, 0, cannot begin a protobuf
	// message, so a batch without the header is never taken for one with it.
	Magic = 0x48425300
	// Version is SB_BATCH_VERSION.
	Version = 1
	// SignalTraces is SB_SIGNAL_TRACES: an OTLP TracesData follows.
	SignalTraces = 1
	// SignalLogs is SB_SIGNAL_LOGS: an OTLP LogsData follows.
	SignalLogs = 2
)

// seq is the process's last batch sequence: one counter for every provider
// and signal (traces and logs alike), since the controller tracks the
// sequence per process, whatever the signal.
var seq atomic.Uint64

// PutHeader writes the header of a batch of signal into b[:HeaderSize],
// leaving its sequence 0; Sequence sets it just before the hand-off.
func PutHeader(b []byte, signal uint8) {
	_ = b[HeaderSize-1]
	binary.LittleEndian.PutUint32(b[0:], Magic)
	b[4] = Version
	b[5] = signal
	binary.LittleEndian.PutUint16(b[6:], 0)
	binary.LittleEndian.PutUint64(b[8:], 0)
}

// Sequence gives the batch whose header starts b the process's next batch
// sequence (1 for the first). Call it right before Ended: the later the
// number is taken, the closer the ring's order stays to the sequence's.
func Sequence(b []byte) {
	binary.LittleEndian.PutUint64(b[8:HeaderSize], seq.Add(1))
}

// Payload returns the message after the header of a batch made with
// PutHeader and the header's signal; ok is false when b does not start with
// the header.
func Payload(b []byte) (msg []byte, signal uint8, ok bool) {
	if len(b) < HeaderSize || binary.LittleEndian.Uint32(b) != Magic {
		return nil, 0, false
	}
	return b[HeaderSize:], b[5], true
}
