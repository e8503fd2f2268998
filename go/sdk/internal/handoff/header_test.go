package handoff

import (
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// endedH reads bpf/ended.h, or skips when the SDK is built outside the
// repository.
func endedH(t *testing.T) []byte {
	t.Helper()
	h, err := os.ReadFile("../../../../bpf/ended.h")
	if err != nil {
		t.Skipf("read bpf/ended.h: %v (the SDK is built outside the repository)", err)
	}
	return h
}

// The header's constants are the #defines of bpf/ended.h.
func TestHeaderConstantsMatchEndedH(t *testing.T) {
	h := endedH(t)
	for name, want := range map[string]uint64{
		"SB_BATCH_MAGIC":   Magic,
		"SB_BATCH_VERSION": Version,
		"SB_SIGNAL_TRACES": SignalTraces,
		"SB_SIGNAL_LOGS":   SignalLogs,
	} {
		m := regexp.MustCompile(`#define ` + name + `\s+(0x[0-9a-f]+|\d+)u`).FindSubmatch(h)
		if m == nil {
			t.Errorf("bpf/ended.h has no #define %s <number>u", name)
			continue
		}
		got, err := strconv.ParseUint(string(m[1]), 0, 64)
		if err != nil || got != want {
			t.Errorf("%s = %s in bpf/ended.h, %#x here", name, m[1], want)
		}
	}
}

// PutHeader and Sequence write struct sb_batch_header of bpf/ended.h: each
// field at the offset C's natural alignment gives it, little-endian.
func TestHeaderLayoutMatchesEndedH(t *testing.T) {
	h := endedH(t)
	body := regexp.MustCompile(`struct sb_batch_header \{([^}]*)\}`).FindSubmatch(h)
	if body == nil {
		t.Fatal("bpf/ended.h has no struct sb_batch_header")
	}
	type field = struct{ offset, size int }
	fields := map[string]field{}
	offset := 0
	for _, m := range regexp.MustCompile(`__u(8|16|32|64)\s+(\w+);`).FindAllSubmatch(body[1], -1) {
		bits, _ := strconv.Atoi(string(m[1]))
		size := bits / 8
		offset = (offset + size - 1) / size * size
		fields[string(m[2])] = field{offset, size}
		offset += size
	}
	if offset != HeaderSize {
		t.Fatalf("sizeof(struct sb_batch_header) = %d, HeaderSize = %d", offset, HeaderSize)
	}

	for _, signal := range []uint8{SignalTraces, SignalLogs} {
		checkHeader(t, fields, signal)
	}
}

// checkHeader writes a header of signal and reads each field back at its
// offset in ended.h.
func checkHeader(t *testing.T, fields map[string]struct{ offset, size int }, signal uint8) {
	b := make([]byte, HeaderSize+3)
	for i := range b {
		b[i] = 0xee
	}
	PutHeader(b, signal)
	Sequence(b)
	first := seqOf(b)
	Sequence(b)
	read := func(name string) uint64 {
		f, ok := fields[name]
		if !ok {
			t.Fatalf("struct sb_batch_header has no field %s", name)
		}
		var v [8]byte
		copy(v[:], b[f.offset:f.offset+f.size])
		return binary.LittleEndian.Uint64(v[:])
	}
	got := map[string]uint64{
		"magic":   read("magic"),
		"version": read("version"),
		"signal":  read("signal"),
		"flags":   read("flags"),
		"seq":     read("seq"),
	}
	want := map[string]uint64{
		"magic": Magic, "version": Version, "signal": uint64(signal), "flags": 0, "seq": first + 1,
	}
	for name := range want {
		if got[name] != want[name] {
			t.Errorf("signal %d: %s = %#x, want %#x", signal, name, got[name], want[name])
		}
	}
	if len(fields) != len(want) {
		t.Errorf("struct sb_batch_header has fields %v; this test knows %d", fields, len(want))
	}
	if msg, sig, ok := Payload(b); !ok || sig != signal || len(msg) != 3 || msg[0] != 0xee {
		t.Errorf("Payload = % x, %d, %v; want the 3 bytes after the header", msg, sig, ok)
	}
}

// The magic's first byte is a protobuf tag of field number 0, which no valid
// message begins with: a batch without the header (an older SDK) is never
// read as one with it, and a headed batch never parses as a TracesData.
func TestMagicCannotBeginAProtobufMessage(t *testing.T) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], Magic)
	if tag, n := binary.Uvarint(b[:]); n != 1 || tag>>3 != 0 {
		t.Errorf("first byte %#x is a tag of field %d (%d bytes); want field 0", b[0], tag>>3, n)
	}
	if _, _, ok := Payload([]byte{0x0a, 0x00, 0x53, 0x42, 0x48, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); ok {
		t.Error("a TracesData with an empty ResourceSpans was taken for a headed batch")
	}
}

// The sequence is one counter for the process: concurrent hand-offs never
// share a number and never skip one.
func TestSequenceIsUniqueAndDense(t *testing.T) {
	const goroutines, each = 8, 1000
	start := seq.Load()
	seen := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, HeaderSize)
			PutHeader(b, SignalTraces)
			for range each {
				Sequence(b)
				seen[g] = append(seen[g], seqOf(b))
			}
		}()
	}
	wg.Wait()
	got := map[uint64]bool{}
	for _, s := range seen {
		for _, n := range s {
			if got[n] {
				t.Fatalf("sequence %d given twice", n)
			}
			got[n] = true
		}
	}
	for n := start + 1; n <= start+goroutines*each; n++ {
		if !got[n] {
			t.Fatalf("sequence %d skipped", n)
		}
	}
}

func seqOf(b []byte) uint64 { return binary.LittleEndian.Uint64(b[8:]) }
