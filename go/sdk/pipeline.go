package sdk

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// pipeline is what a provider of one signal (traces or logs) shares with
// the batchers of its scopes: the batch bounds, the encoded resource, the
// free batch buffers, the batches held while no probe is attached and the
// goroutine that hands off batches on time. A span or a log record is
// encoded straight into its scope's batch buffer and handed off on the
// caller's goroutine when the batch is full: there is no queue of items.
type pipeline struct {
	signal        uint8
	batchTimeout  time.Duration
	maxItems      int // items (spans, log records) a batch holds at most
	maxBatchBytes int
	maxItemBytes  int // the item size bound: items larger are trimmed
	// maxHeldItems bounds the items held while no probe is attached, as
	// maxHeldBytes bounds their bytes (0: no count bound).
	maxHeldItems int
	// sink receives every batch: handoff.Ended, or a test's recorder.
	sink func(batch []byte)

	resource []byte // the Resource* message's resource and schema_url, encoded
	stopped  atomic.Bool
	bufs     chan *[]byte // free batch buffers
	// handing is read-locked during each hand-off so that flush can wait
	// for those under way.
	handing sync.RWMutex

	// held are the batches sealed while no probe was attached, oldest
	// first; nHeld is len(held), read without heldMu on every hand-off.
	heldMu    sync.Mutex
	held      []sealedBatch
	heldBytes int
	heldItems int
	nHeld     atomic.Int32

	list atomic.Pointer[[]*batcher] // the batchers, for the flusher

	stop chan struct{}
	done chan struct{}
}

// start sets up the pipeline's state and starts its goroutine, which hands
// off batches on time and refreshes the attach state until shutdown.
func (p *pipeline) start(resource []byte) {
	p.resource = resource
	p.bufs = make(chan *[]byte, freeBufs)
	p.stop = make(chan struct{})
	p.done = make(chan struct{})
	p.list.Store(new([]*batcher))
	handoff.Refresh()
	go p.run()
}

// addBatcher adds the batcher of a new scope to those the flusher visits.
// The caller serialises calls.
func (p *pipeline) addBatcher(b *batcher) {
	list := append(slices.Clone(*p.list.Load()), b)
	p.list.Store(&list)
}

// forceFlush hands off every item that waits (spec, ForceFlush of the
// trace and log SDKs), or fails when ctx ends first; the hand-off then
// still completes in the background. A nil ctx never ends.
func (p *pipeline) forceFlush(ctx context.Context) error {
	ctx = orBackground(ctx)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("spanbridge: force flush: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.flush()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("spanbridge: force flush: %w", ctx.Err())
	}
}

// flush hands off every item that waits, before it returns.
func (p *pipeline) flush() {
	if p.nHeld.Load() > 0 && handoff.Refresh() {
		p.releaseHeld()
	}
	now := time.Now()
	for _, b := range *p.list.Load() {
		b.flush(now, 0)
	}
	// Wait for hand-offs that other goroutines began.
	p.handing.Lock()
	defer p.handing.Unlock()
}

// shutdown flushes p and stops its goroutine; later calls do nothing. It
// fails only if ctx ends first; a nil ctx never ends. what names the
// provider in the error.
func (p *pipeline) shutdown(ctx context.Context, what string) error {
	ctx = orBackground(ctx)
	if p.stopped.Swap(true) {
		return nil
	}
	close(p.stop)
	p.flush()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("spanbridge: shut down %s: %w", what, ctx.Err())
	}
}

// run hands off batches whose first item waited for the batch timeout and
// refreshes the attach state, until shutdown.
func (p *pipeline) run() {
	defer close(p.done)
	tick := time.NewTicker(min(refreshInterval, p.batchTimeout))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			if handoff.Refresh() && p.nHeld.Load() > 0 {
				p.releaseHeld()
			}
			for _, b := range *p.list.Load() {
				b.flush(now, p.batchTimeout)
			}
		}
	}
}

// freeBufs is how many batch buffers a pipeline keeps for reuse. A free
// list rather than a sync.Pool: the pool is emptied by every garbage
// collection, and growing a buffer to the largest batch anew costs more than
// the items it carries.
const freeBufs = 4

// initialBufBytes is the capacity of a new batch buffer: enough for a
// quiet scope; a busy one grows it to the batch bound, and the free list
// keeps it so.
const initialBufBytes = 64 << 10

// maxHeldBytes bounds the batches a pipeline holds while no probe is
// attached: enough for the seconds a controller takes to restart on a
// kernel whose attachments end with it (before 5.15), at a few thousand
// spans per second; past it the oldest batches are dropped.
const maxHeldBytes = 4 << 20

// handOff numbers a batch and gives it to the probe, and its buffer back to
// the free list. While no probe is attached (a controller that stopped or
// died) the batch is held instead, never handed off into nothing, and the
// held batches go first once a probe is there again. A held batch dropped
// for room leaves a gap in the batch sequence, which the controller counts
// as lost.
func (p *pipeline) handOff(b sealedBatch) {
	handoff.Sequence(b.data)
	if !handoff.Refresh() {
		p.hold(b)
		return
	}
	if p.nHeld.Load() > 0 {
		p.releaseHeld()
	}
	p.give(b)
}

// give hands b to the probe and recycles its buffer.
func (p *pipeline) give(b sealedBatch) {
	p.sink(b.data)
	select {
	case p.bufs <- b.buf:
	default:
	}
}

// hold keeps b until a probe is attached, dropping the oldest held batches
// past maxHeldBytes or maxHeldItems.
func (p *pipeline) hold(b sealedBatch) {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	p.held = append(p.held, b)
	p.heldBytes += len(b.data)
	p.heldItems += b.n
	for len(p.held) > 1 && (p.heldBytes > maxHeldBytes || (p.maxHeldItems > 0 && p.heldItems > p.maxHeldItems)) {
		p.heldBytes -= len(p.held[0].data)
		p.heldItems -= p.held[0].n
		p.held[0] = sealedBatch{}
		p.held = p.held[1:]
	}
	p.nHeld.Store(int32(len(p.held)))
}

// releaseHeld hands off the held batches, oldest first.
func (p *pipeline) releaseHeld() {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	for _, b := range p.held {
		p.give(b)
	}
	clear(p.held)
	p.held = p.held[:0]
	p.heldBytes, p.heldItems = 0, 0
	p.nHeld.Store(0)
}

// getBuf returns an empty batch buffer with headroom bytes reserved.
func (p *pipeline) getBuf(headroom int) *[]byte {
	select {
	case b := <-p.bufs:
		*b = (*b)[:headroom]
		return b
	default:
		b := make([]byte, headroom, min(initialBufBytes, p.maxBatchBytes))
		return &b
	}
}
