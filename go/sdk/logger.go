package sdk

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// logger emits the log records of one instrumentation scope into its batch.
type logger struct {
	embedded.Logger

	provider *LogProvider
	batch    *batcher
}

var _ log.Logger = (*logger)(nil)

// attrScratch holds the slices a record's attributes are gathered in while
// it is encoded: reused, since an array on Emit's stack would move to the
// heap (the attribute walk's callback captures it) and cost an allocation
// per record.
var attrScratch = sync.Pool{New: func() any {
	s := make([]attribute.KeyValue, 0, 16)
	return &s
}}

// Enabled reports whether a record would be recorded: only while the probe
// is attached and the provider runs. A bridge (otelslog, otelzap, ...) asks
// it first, so a detached program pays what the no-op logger costs.
func (l *logger) Enabled(context.Context, log.EnabledParameters) bool {
	return handoff.Attached() && !l.provider.stopped.Load()
}

// Emit encodes r into its scope's batch. The trace ID, span ID and trace
// flags come from the span context in ctx; a zero observed timestamp
// becomes now; an error set with SetErr adds exception.type and
// exception.message unless the record has them. While no probe is
// attached, or after Shutdown, it does nothing. A nil ctx counts as
// context.Background().
func (l *logger) Emit(ctx context.Context, r log.Record) {
	if !handoff.Attached() || l.provider.stopped.Load() {
		return
	}
	p := l.provider
	lim := &p.cfg.logLimits
	d := logData{
		time:         unixNano(r.Timestamp()),
		observed:     unixNano(r.ObservedTimestamp()),
		severity:     r.Severity(),
		severityText: r.SeverityText(),
		eventName:    r.EventName(),
	}
	if d.observed == 0 {
		d.observed = time.Now().UnixNano()
	}
	if ctx != nil {
		d.sc = trace.SpanContextFromContext(ctx)
	}
	// The record's body dedups its map keys (last wins) and keeps the depth
	// limit; only attribute values are cut to the length limit.
	d.body, _ = normValue(r.Body(), -1, lim.AttributeValueDepthLimit)

	scratch := attrScratch.Get().(*[]attribute.KeyValue)
	attrs := (*scratch)[:0]
	hasType, hasMessage := false, false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		switch kv.Key {
		case semconv.ExceptionTypeKey:
			hasType = true
		case semconv.ExceptionMessageKey:
			hasMessage = true
		}
		attrs = append(attrs, kv)
		return true
	})
	if err := r.Err(); err != nil {
		if !hasType {
			attrs = append(attrs, semconv.ExceptionTypeKey.String(typeName(err)))
		}
		if !hasMessage {
			attrs = append(attrs, semconv.ExceptionMessageKey.String(err.Error()))
		}
	}
	valueLimits := SpanLimits{AttributeValueLengthLimit: lim.AttributeValueLengthLimit, AttributeValueDepthLimit: lim.AttributeValueDepthLimit}
	d.attrs, d.dropped = addAttrs(attrs[:0], attrs, lim.AttributeCountLimit, &valueLimits)
	l.batch.addLog(&d)
	clear(attrs) // the pool must not keep the record's values alive
	*scratch = attrs[:0]
	attrScratch.Put(scratch)
}

// unixNano is t in Unix nanoseconds, 0 for the zero time (unknown in OTLP).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// addLog encodes d, trimmed to the record size bound, straight into the
// batch and hands off the batch when it is full.
func (b *batcher) addLog(d *logData) {
	bound := b.pipe.maxItemBytes
	var report []error
	buf := b.open()
	pos := len(buf)
	enc, start := beginMessage(buf, scopeLogsLogRecords)
	if logValueBytes(d) > bound {
		enc, report = appendTrimmedLog(enc, d, bound)
	} else if enc = appendLogContent(enc, d); len(enc)-start > bound {
		enc, report = appendTrimmedLog(enc[:start], d, bound)
	}
	b.commit(endMessage(enc, start), pos, report)
}
