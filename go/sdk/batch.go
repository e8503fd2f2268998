package sdk

import (
	"encoding/binary"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// batcher collects the encoded items (spans or log records) of one
// instrumentation scope into a buffer that becomes one batch: the batch
// header of bpf/ended.h and a TracesData or LogsData. The buffer starts with
// room for the batch header and the TracesData/LogsData, Resource* and
// Scope* headers, which are written in front of the items when the batch is
// sealed, so a batch is handed off without being copied.
type batcher struct {
	pipe     *pipeline
	scope    []byte // Scope*.scope and .schema_url fields, encoded
	headroom int    // bytes reserved for the headers

	mu    sync.Mutex
	buf   *[]byte   // nil when no item waits; items start at headroom
	n     int       // items in buf
	first time.Time // when the first item of buf came
}

// newBatcher returns the batcher of a scope whose fields are encoded in
// scope.
func newBatcher(p *pipeline, scope []byte) *batcher {
	return &batcher{
		pipe:     p,
		scope:    scope,
		headroom: headroomFor(len(p.resource), len(scope)),
	}
}

// headroomFor is the room the headers of a batch need at most: the batch
// header, two tags, two lengths and the encoded resource and scope.
func headroomFor(resource, scope int) int {
	return handoff.HeaderSize + 2*(1+binary.MaxVarintLen32) + resource + scope
}

// add encodes d, trimmed to the span size bound, straight into the batch
// (encoding a typical span takes less time than copying it from a scratch
// buffer would save in lock hold time) and hands off the batch when it is
// full.
func (b *batcher) add(d *spanData) {
	maxSpanBytes := b.pipe.maxItemBytes
	var report []error
	buf := b.open()
	pos := len(buf)
	enc, start := beginMessage(buf, scopeSpansSpans)
	if vb := valueBytes(d); vb > maxSpanBytes {
		// Cut before encoding: a value of megabytes would cost
		// milliseconds to encode whole.
		enc, report = appendTrimmedSpan(enc, d, maxSpanBytes, vb)
	} else if enc = appendSpanContent(enc, d); len(enc)-start > maxSpanBytes {
		enc, report = appendTrimmedSpan(enc[:start], d, maxSpanBytes, len(enc)-start)
	}
	b.commit(endMessage(enc, start), pos, report)
}

// open locks b and returns its batch buffer, opening a batch when none
// waits. The caller appends one item to the buffer and calls commit.
func (b *batcher) open() []byte {
	b.mu.Lock()
	if b.buf == nil {
		b.buf = b.pipe.getBuf(b.headroom)
		b.first = time.Now()
	}
	return *b.buf
}

// commit takes the buffer returned by open with one item appended from
// pos, hands off the batch when it is full, unlocks b and reports the
// errors of the item's encoding.
func (b *batcher) commit(enc []byte, pos int, report []error) {
	var sealed [2]sealedBatch
	*b.buf = enc
	if len(enc) > b.pipe.maxBatchBytes {
		// The item does not fit: it opens the next batch. An item within
		// the bound always fits an empty batch.
		item := append([]byte(nil), enc[pos:]...)
		*b.buf = enc[:pos]
		sealed[0] = b.seal()
		b.buf = b.pipe.getBuf(b.headroom)
		b.first = time.Now()
		*b.buf = append(*b.buf, item...)
	}
	b.n++
	if b.n >= b.pipe.maxItems {
		sealed[1] = b.seal()
	}
	if sealed[0].buf == nil && sealed[1].buf == nil {
		b.mu.Unlock()
		handleAll(report)
		return
	}
	// Taken before b.mu is released so that a flush that finds b empty
	// waits for these hand-offs.
	b.pipe.handing.RLock()
	b.mu.Unlock()
	for _, batch := range sealed {
		if batch.buf != nil {
			b.pipe.handOff(batch)
		}
	}
	b.pipe.handing.RUnlock()
	handleAll(report)
}

// handleAll gives each error to the OpenTelemetry error handler.
func handleAll(errs []error) {
	for _, err := range errs {
		otel.Handle(err)
	}
}

// flush hands off the waiting spans if there are any and, when olderThan
// is positive, the first of them came at least olderThan before now.
func (b *batcher) flush(now time.Time, olderThan time.Duration) {
	b.mu.Lock()
	if b.buf == nil || (olderThan > 0 && now.Sub(b.first) < olderThan) {
		b.mu.Unlock()
		return
	}
	batch := b.seal()
	b.pipe.handing.RLock()
	b.mu.Unlock()
	b.pipe.handOff(batch)
	b.pipe.handing.RUnlock()
}

// sealedBatch is a batch ready for the probe: data (the batch header, its
// sequence not yet set, and the TracesData or LogsData), in the pooled
// buffer buf, with n items.
type sealedBatch struct {
	data []byte
	buf  *[]byte
	n    int
}

// seal writes the headers in front of the waiting items, returns the batch
// and leaves b empty. b.mu must be held. TracesData and LogsData number
// their fields alike (resource_spans/resource_logs 1, then resource 1,
// scope_spans/scope_logs 2, scope 1, spans/log_records 2, schema_url 3), so
// one framing serves both signals.
func (b *batcher) seal() sealedBatch {
	buf := *b.buf
	res := b.pipe.resource
	spans := len(buf) - b.headroom
	ss := len(b.scope) + spans
	rs := len(res) + 1 + protowire.SizeVarint(uint64(ss)) + ss
	start := b.headroom - (1 + protowire.SizeVarint(uint64(rs)) + rs - spans)

	h := buf[start:start]
	h = protowire.AppendTag(h, tracesDataResourceSpans, protowire.BytesType)
	h = protowire.AppendVarint(h, uint64(rs))
	h = append(h, res...)
	h = protowire.AppendTag(h, resourceSpansScopeSpans, protowire.BytesType)
	h = protowire.AppendVarint(h, uint64(ss))
	_ = append(h, b.scope...)
	start -= handoff.HeaderSize
	handoff.PutHeader(buf[start:], b.pipe.signal)

	sb := sealedBatch{data: buf[start:], buf: b.buf, n: b.n}
	b.buf, b.n = nil, 0
	return sb
}
