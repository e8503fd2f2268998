package sdk

import (
	"context"
	"time"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// waitPoll is how often WaitAttached looks at the probe point.
const waitPoll = 10 * time.Millisecond

// Attached reports whether the controller's probe is attached to this
// process now, by reading the first instruction of the probe point. It needs
// no privilege and no system call. A probe that appeared while the process
// ran counts once it has been there for 50 ms, so that no batch is handed
// off before the controller's program is linked to the probe.
func Attached() bool { return handoff.Refresh() }

// WaitAttached waits until the controller's probe is attached or ctx ends,
// and reports whether it is attached. Spans started before attachment do
// not record, so a program that must not miss its first spans waits first.
// A nil ctx never ends.
func WaitAttached(ctx context.Context) bool {
	ctx = orBackground(ctx)
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for !handoff.Refresh() {
		select {
		case <-ctx.Done():
			return handoff.Refresh()
		case <-tick.C:
		}
	}
	return true
}
