package sdk

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Provider is a trace.TracerProvider whose spans go to the probe. Most
// programs use the process-wide one, TracerProvider.
type Provider struct {
	embedded.TracerProvider

	cfg       config
	resource  []byte // ResourceSpans.resource and .schema_url, encoded
	emptySpan *nonRecordingSpan
	stopped   atomic.Bool
	bufs      chan *[]byte // free batch buffers
	// handing is read-locked during each hand-off so that Flush can wait
	// for those under way.
	handing sync.RWMutex

	// held are the batches sealed while no probe was attached, oldest
	// first; nHeld is len(held), read without heldMu on every hand-off.
	heldMu    sync.Mutex
	held      []sealedBatch
	heldBytes int
	nHeld     atomic.Int32

	mu      sync.Mutex
	tracers map[tracerKey]*tracer
	list    atomic.Pointer[[]*tracer] // the tracers, for the flusher

	stop chan struct{}
	done chan struct{}
}

var _ trace.TracerProvider = (*Provider)(nil)

// tracerKey identifies an instrumentation scope.
type tracerKey struct {
	name, version, schemaURL string
	attrs                    attribute.Distinct
}

// NewTracerProvider returns a Provider with its own batches, configured
// from the environment and then opts. It starts a goroutine that hands off
// batches on time and refreshes the attach state; Shutdown stops it.
func NewTracerProvider(opts ...Option) *Provider {
	p := &Provider{
		cfg:      newConfig(opts),
		resource: encodeResource(resourceAttrs()),
		tracers:  make(map[tracerKey]*tracer),
		bufs:     make(chan *[]byte, freeBufs),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	p.emptySpan = &nonRecordingSpan{provider: p}
	p.list.Store(new([]*tracer))
	handoff.Refresh()
	go p.run()
	return p
}

var (
	defaultOnce     sync.Once
	defaultProvider *Provider
)

// TracerProvider returns the process-wide provider, configured from the
// environment. Use it directly or install it with otel.SetTracerProvider.
func TracerProvider() trace.TracerProvider { return processProvider() }

// processProvider makes the process-wide provider on first use.
func processProvider() *Provider {
	defaultOnce.Do(func() { defaultProvider = NewTracerProvider() })
	return defaultProvider
}

// Flush hands off every span of the process-wide provider that has ended,
// before it returns.
func Flush() { processProvider().Flush() }

// ForceFlush hands off every span of the process-wide provider that has
// ended, or fails when ctx ends first.
func ForceFlush(ctx context.Context) error { return processProvider().ForceFlush(ctx) }

// Shutdown flushes the process-wide provider and stops it: spans started
// afterwards do not record.
func Shutdown(ctx context.Context) error { return processProvider().Shutdown(ctx) }

// Tracer returns the tracer of an instrumentation scope: name and the
// options' version, schema URL and attributes. The same scope gets the same
// tracer.
func (p *Provider) Tracer(name string, options ...trace.TracerOption) trace.Tracer {
	c := trace.NewTracerConfig(options...)
	set := c.InstrumentationAttributes()
	key := tracerKey{name: name, version: c.InstrumentationVersion(), schemaURL: c.SchemaURL(), attrs: set.Equivalent()}

	p.mu.Lock()
	t, ok := p.tracers[key]
	p.mu.Unlock()
	if ok {
		return t
	}
	// Encoded outside p.mu: an oversized scope is reported to the error
	// handler, which may well ask for a tracer itself.
	scope := encodeScope(key.name, key.version, key.schemaURL, set.ToSlice())
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.tracers[key]; ok {
		return t
	}
	t = &tracer{provider: p}
	t.batch = newBatcher(p, scope)
	p.tracers[key] = t
	list := append(slices.Clone(*p.list.Load()), t)
	p.list.Store(&list)
	return t
}

// encodeScope returns the ScopeSpans.scope and .schema_url fields. A scope
// over maxHeaderBytes loses its attributes, counted as dropped.
func encodeScope(name, version, schemaURL string, attrs []attribute.KeyValue) []byte {
	enc := func(attrs []attribute.KeyValue, dropped int) []byte {
		b := appendScope(nil, name, version, attrs, dropped)
		if schemaURL != "" {
			b = appendString(b, scopeSpansSchemaURL, schemaURL)
		}
		return b
	}
	b := enc(attrs, 0)
	if len(b) > maxHeaderBytes {
		otel.Handle(fmt.Errorf("spanbridge: scope %q is %d bytes encoded, over the %d-byte limit; dropping its attributes",
			name, len(b), maxHeaderBytes))
		b = enc(nil, len(attrs))
	}
	if len(b) > maxHeaderBytes {
		otel.Handle(fmt.Errorf("spanbridge: scope name, version and schema URL are %d bytes encoded, over the %d-byte limit; dropping them",
			len(b), maxHeaderBytes))
		b = appendScope(nil, "", "", nil, len(attrs))
	}
	return b
}

// ForceFlush hands off every span that has ended (spec, trace SDK,
// ForceFlush), or fails when ctx ends first; the hand-off then still
// completes in the background. A nil ctx never ends.
func (p *Provider) ForceFlush(ctx context.Context) error {
	ctx = orBackground(ctx)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("spanbridge: force flush: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Flush()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("spanbridge: force flush: %w", ctx.Err())
	}
}

// Flush hands off every span that has ended, before it returns: ForceFlush
// without a deadline.
func (p *Provider) Flush() {
	if p.nHeld.Load() > 0 && handoff.Refresh() {
		p.releaseHeld()
	}
	now := time.Now()
	for _, t := range *p.list.Load() {
		t.batch.flush(now, 0)
	}
	// Wait for hand-offs that other goroutines began.
	p.handing.Lock()
	defer p.handing.Unlock()
}

// Shutdown flushes p and stops its goroutine; spans started afterwards do
// not record, and spans ending afterwards are not handed off. Later calls do
// nothing. It fails only if ctx ends first; a nil ctx never ends.
func (p *Provider) Shutdown(ctx context.Context) error {
	ctx = orBackground(ctx)
	if p.stopped.Swap(true) {
		return nil
	}
	close(p.stop)
	p.Flush()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("spanbridge: shut down tracer provider: %w", ctx.Err())
	}
}

// run hands off batches whose first span waited for the batch timeout and
// refreshes the attach state, until Shutdown.
func (p *Provider) run() {
	defer close(p.done)
	tick := time.NewTicker(min(refreshInterval, p.cfg.batchTimeout))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			if handoff.Refresh() && p.nHeld.Load() > 0 {
				p.releaseHeld()
			}
			for _, t := range *p.list.Load() {
				t.batch.flush(now, p.cfg.batchTimeout)
			}
		}
	}
}

// freeBufs is how many batch buffers a Provider keeps for reuse. A free
// list rather than a sync.Pool: the pool is emptied by every garbage
// collection, and growing a buffer to the largest batch anew costs more than
// the spans it carries.
const freeBufs = 4

// initialBufBytes is the capacity of a new batch buffer: enough for a
// quiet scope; a busy one grows it to the batch bound, and the free list
// keeps it so.
const initialBufBytes = 64 << 10

// maxHeldBytes bounds the batches a Provider holds while no probe is
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
func (p *Provider) handOff(b sealedBatch) {
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
func (p *Provider) give(b sealedBatch) {
	p.cfg.sink(b.data)
	select {
	case p.bufs <- b.buf:
	default:
	}
}

// hold keeps b until a probe is attached, dropping the oldest held batches
// past maxHeldBytes.
func (p *Provider) hold(b sealedBatch) {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	p.held = append(p.held, b)
	p.heldBytes += len(b.data)
	for p.heldBytes > maxHeldBytes && len(p.held) > 1 {
		p.heldBytes -= len(p.held[0].data)
		p.held[0] = sealedBatch{}
		p.held = p.held[1:]
	}
	p.nHeld.Store(int32(len(p.held)))
}

// releaseHeld hands off the held batches, oldest first.
func (p *Provider) releaseHeld() {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	for _, b := range p.held {
		p.give(b)
	}
	clear(p.held)
	p.held = p.held[:0]
	p.heldBytes = 0
	p.nHeld.Store(0)
}

// getBuf returns an empty batch buffer with headroom bytes reserved.
func (p *Provider) getBuf(headroom int) *[]byte {
	select {
	case b := <-p.bufs:
		*b = (*b)[:headroom]
		return b
	default:
		b := make([]byte, headroom, min(initialBufBytes, p.cfg.maxBatchBytes))
		return &b
	}
}
