package handoff

import "time"

// Settle is how long the probe point must have been seen patched, after it
// was seen unpatched, before Refresh reports the probe attached.
//
// The controller attaches in two steps: opening the uprobe patches the probe
// point in every process at once, and only the next system call links the
// controller's program to it. A batch handed to ended in between reaches no
// program and is lost without anybody counting it; a process that polls for
// the patch (WaitAttached) sees it within one poll. Waiting Settle after the
// patch leaves that window harmless unless the controller stalls between the
// two calls for longer. A probe point already patched when the process first
// looks was patched when the program was mapped, by a link already made, and
// counts at once.
const Settle = 50 * time.Millisecond

// attachState turns successive reads of the probe point into the attach state
// that Refresh reports. Refresh serializes its use.
type attachState struct {
	observed bool      // a read was made before
	settled  bool      // attached: patched at the first read or for Settle
	since    time.Time // when the patch was first seen (zero: not patched)
}

// observe records that the probe point was read at now, patched or not, and
// reports whether the probe counts as attached.
func (s *attachState) observe(patched bool, now time.Time) bool {
	first := !s.observed
	s.observed = true
	switch {
	case !patched:
		s.settled, s.since = false, time.Time{}
	case first || s.settled:
		s.settled = true
	case s.since.IsZero():
		s.since = now
	case now.Sub(s.since) >= Settle:
		s.settled = true
	}
	return s.settled
}
