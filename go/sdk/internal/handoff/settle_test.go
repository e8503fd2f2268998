package handoff

import (
	"testing"
	"time"
)

func TestAttachStateSettles(t *testing.T) {
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var s attachState
	steps := []struct {
		patched bool
		at      time.Duration
		want    bool
		why     string
	}{
		{false, 0, false, "unpatched"},
		{true, 10 * time.Millisecond, false, "patched since this read: the program may not be linked yet"},
		{true, 10*time.Millisecond + Settle - 1, false, "not yet Settle"},
		{true, 10*time.Millisecond + Settle, true, "patched for Settle"},
		{true, time.Hour, true, "stays attached"},
		{false, time.Hour + 1, false, "detached at once"},
		{true, time.Hour + 2, false, "attached again: settles again"},
		{false, time.Hour + 3, false, "detached while settling"},
		{true, time.Hour + 4, false, "the settle time starts over"},
		{true, time.Hour + 3 + Settle, false, "counted from the new patch, not the old one"},
		{true, time.Hour + 4 + Settle, true, "settled"},
	}
	for i, st := range steps {
		if got := s.observe(st.patched, at(st.at)); got != st.want {
			t.Fatalf("step %d (%s): attached = %v, want %v", i, st.why, got, st.want)
		}
	}
}

func TestAttachStatePatchedAtFirstReadCountsAtOnce(t *testing.T) {
	var s attachState
	if !s.observe(true, time.Now()) {
		t.Fatal("a probe point patched before the first read (at exec, by a live link) must count at once")
	}
}
