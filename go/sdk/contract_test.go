package sdk

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// The batch byte bounds are those of the probe's wire contract.
func TestBatchBoundsMatchEndedH(t *testing.T) {
	h, err := os.ReadFile("../../bpf/ended.h")
	if err != nil {
		t.Skipf("read bpf/ended.h: %v (the SDK is built outside the repository)", err)
	}
	define := func(name string) int {
		m := regexp.MustCompile(`#define ` + name + `\s+\((\d+)u << (\d+)\)`).FindSubmatch(h)
		if m == nil {
			t.Fatalf("bpf/ended.h has no %s of the form (Nu << M)", name)
		}
		n, _ := strconv.Atoi(string(m[1]))
		s, _ := strconv.Atoi(string(m[2]))
		return n << s
	}
	if got := define("SB_MAX_RECORD_CLASSES"); got != DefaultMaxBatchBytes {
		t.Errorf("SB_MAX_RECORD_CLASSES = %d, DefaultMaxBatchBytes = %d", got, DefaultMaxBatchBytes)
	}
	if got := define("SB_MAX_RECORD_DYNPTR"); got != MaxBatchBytes {
		t.Errorf("SB_MAX_RECORD_DYNPTR = %d, MaxBatchBytes = %d", got, MaxBatchBytes)
	}
}
