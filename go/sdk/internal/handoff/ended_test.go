package handoff

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// nops are the first bytes of ended's body when no probe is attached.
var nops = map[elf.Machine][]byte{
	elf.EM_X86_64:  {0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3},             // nopl 0(%rax,%rax,1); ret
	elf.EM_AARCH64: {0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6}, // nop; ret
}

// endedCode finds the probe point in an ELF binary and returns its first
// bytes (read through the PT_LOAD segment that holds it, as a uprobe's file
// offset is computed) and the binary's machine.
func endedCode(t *testing.T, path string) ([]byte, elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("read symbols of %s: %v", path, err)
	}
	var found []elf.Symbol
	for _, s := range syms {
		if s.Name == Symbol || s.Name == "github.com/spanbridge/spanbridge/go/sdk/internal/handoff.ended" {
			found = append(found, s)
		}
	}
	if len(found) != 1 || found[0].Name != Symbol {
		t.Fatalf("%s: symbols %v, want exactly %s (no ABIInternal wrapper)", path, found, Symbol)
	}
	sym := found[0]
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && sym.Value >= p.Vaddr && sym.Value < p.Vaddr+p.Filesz {
			code := make([]byte, 8)
			if _, err := p.ReadAt(code, int64(sym.Value-p.Vaddr)); err != nil {
				t.Fatalf("read %s at %#x: %v", Symbol, sym.Value, err)
			}
			return code, f.Machine
		}
	}
	t.Fatalf("%s: no executable PT_LOAD segment holds %s at %#x", path, Symbol, sym.Value)
	return nil, 0
}

// The probe contract checked on built programs: the symbol name, that it is
// the only symbol for ended (no wrapper), and its NOP, for amd64 and arm64.
func TestProbePointInBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "emitter")
			cmd := exec.Command(goBin, "build", "-o", out, "./emitter")
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build ./emitter for %s: %v\n%s", arch, err, b)
			}
			code, machine := endedCode(t, out)
			if nop := nops[machine]; !bytes.HasPrefix(code, nop) {
				t.Errorf("%s starts with % x, want % x", Symbol, code, nop)
			}
			if arch != runtime.GOARCH || Refresh() {
				return
			}
			got, err := exec.Command(out, "-wait-attach", "0", "-sizes", "1,4096,0", "-count", "3").Output()
			if err != nil || string(got) != "sent 9\n" {
				t.Errorf("emitter printed %q (%v), want \"sent 9\"", got, err)
			}
		})
	}
}

// The running binary's ended reads as detached, and head reads its NOP and
// RET.
func TestHeadReadsTheNOPAndRET(t *testing.T) {
	h := head()
	if probed(h) {
		t.Skip("a real probe is attached to the test binary")
	}
	want := map[string][]byte{
		"amd64": {0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3},
		"arm64": {0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6},
	}[runtime.GOARCH]
	if want == nil {
		t.Skipf("no probe point on %s", runtime.GOARCH)
	}
	got := make([]byte, 8)
	for i := range got {
		got[i] = byte(h >> (8 * i))
	}
	if !bytes.Equal(got[:len(want)], want) {
		t.Errorf("head reads % x, want % x", got[:len(want)], want)
	}
}

func TestProbed(t *testing.T) {
	tests := []struct {
		arch string
		head uint64
		want bool
	}{
		{"amd64", 0xcccc_c300_00441f0f, false}, // the NOP, RET and padding
		{"amd64", 0xcccc_c300_00441fcc, true},  // int3 on the NOP
		{"amd64", 0xcccc_c312_345678e8, true},  // call to the uprobe trampoline
		{"amd64", 0xcccc_cc00_00441f0f, true},  // int3 on the RET
		{"arm64", 0xd65f03c0_d503201f, false},  // NOP, RET
		{"arm64", 0xd65f03c0_d42000a0, true},   // BRK #0x5 on the NOP
		{"arm64", 0xd42000a0_d503201f, true},   // BRK #0x5 on the RET
		{"arm64", 0xd65f03c0_d4200000, true},   // BRK #0
	}
	for _, tt := range tests {
		if tt.arch != runtime.GOARCH {
			continue
		}
		if got := probed(tt.head); got != tt.want {
			t.Errorf("probed(%#016x) = %v, want %v", tt.head, got, tt.want)
		}
	}
}

func TestHook(t *testing.T) {
	if Refresh() {
		t.Skip("a real probe is attached to the test binary")
	}
	var got []string
	restore := SetHook(func(b []byte) { got = append(got, string(b)) })
	if !Attached() {
		t.Error("not attached with a hook")
	}
	Ended([]byte("batch"))
	restore()
	Ended([]byte("after"))
	if Attached() || fmt.Sprint(got) != "[batch]" {
		t.Errorf("attached %v, hook saw %v", Attached(), got)
	}
}

// A Refresh that read the hook just before it was removed must not store its
// answer after the restore's own Refresh: the last read wins.
func TestRefreshIsNotOverwrittenByAnEarlierRead(t *testing.T) {
	if Refresh() {
		t.Skip("a real probe is attached to the test binary")
	}
	for i := range 2000 {
		restore := SetHook(nil)
		var stop atomic.Bool
		var started, done sync.WaitGroup
		for range 4 {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				started.Done()
				for !stop.Load() {
					Refresh()
				}
			}()
		}
		started.Wait()
		// The refreshers finish the Refresh they are in while the hook goes.
		stop.Store(true)
		restore()
		done.Wait()
		if Attached() {
			t.Fatalf("iteration %d: attached with no hook and no probe", i)
		}
	}
}
