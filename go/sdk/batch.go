package sdk

import (
	"encoding/binary"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// batcher collects the encoded spans of one tracer (one instrumentation
// scope) into a buffer that becomes one batch: the batch header of
// bpf/ended.h and a TracesData. The buffer starts with room for the batch
// header and the TracesData, ResourceSpans and ScopeSpans headers, which are
// written in front of the spans when the batch is sealed, so a batch is
// handed off without being copied.
type batcher struct {
	provider *Provider
	scope    []byte // ScopeSpans.scope and .schema_url fields, encoded
	headroom int    // bytes reserved for the headers

	mu    sync.Mutex
	buf   *[]byte   // nil when no span waits; spans start at headroom
	n     int       // spans in buf
	first time.Time // when the first span of buf came
}

// newBatcher returns the batcher of a scope whose fields are encoded in
// scope.
func newBatcher(p *Provider, scope []byte) *batcher {
	return &batcher{
		provider: p,
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
	cfg := &b.provider.cfg
	var (
		sealed [2]sealedBatch
		report []error
	)
	b.mu.Lock()
	if b.buf == nil {
		b.buf = b.provider.getBuf(b.headroom)
		b.first = time.Now()
	}
	buf := *b.buf
	pos := len(buf)
	enc, start := beginMessage(buf, scopeSpansSpans)
	if vb := valueBytes(d); vb > cfg.maxSpanBytes {
		// Cut before encoding: a value of megabytes would cost
		// milliseconds to encode whole.
		enc, report = appendTrimmedSpan(enc, d, cfg.maxSpanBytes, vb)
	} else if enc = appendSpanContent(enc, d); len(enc)-start > cfg.maxSpanBytes {
		enc, report = appendTrimmedSpan(enc[:start], d, cfg.maxSpanBytes, len(enc)-start)
	}
	enc = endMessage(enc, start)
	*b.buf = enc
	if len(enc) > cfg.maxBatchBytes {
		// The span does not fit: it opens the next batch. A span within the
		// bound always fits an empty batch.
		span := append([]byte(nil), enc[pos:]...)
		*b.buf = enc[:pos]
		sealed[0] = b.seal()
		b.buf = b.provider.getBuf(b.headroom)
		b.first = time.Now()
		*b.buf = append(*b.buf, span...)
	}
	b.n++
	if b.n >= cfg.maxBatchSpans {
		sealed[1] = b.seal()
	}
	if sealed[0].buf == nil && sealed[1].buf == nil {
		b.mu.Unlock()
		handleAll(report)
		return
	}
	// Taken before b.mu is released so that a Flush that finds b empty
	// waits for these hand-offs.
	b.provider.handing.RLock()
	b.mu.Unlock()
	for _, batch := range sealed {
		if batch.buf != nil {
			b.provider.handOff(batch)
		}
	}
	b.provider.handing.RUnlock()
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
	b.provider.handing.RLock()
	b.mu.Unlock()
	b.provider.handOff(batch)
	b.provider.handing.RUnlock()
}

// sealedBatch is a batch ready for the probe: data (the batch header, its
// sequence not yet set, and the TracesData), in the pooled buffer buf.
type sealedBatch struct {
	data []byte
	buf  *[]byte
}

// seal writes the headers in front of the waiting spans, returns the batch
// and leaves b empty. b.mu must be held.
func (b *batcher) seal() sealedBatch {
	buf := *b.buf
	res := b.provider.resource
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
	handoff.PutHeader(buf[start:], handoff.SignalTraces)

	sb := sealedBatch{data: buf[start:], buf: b.buf}
	b.buf, b.n = nil, 0
	return sb
}
