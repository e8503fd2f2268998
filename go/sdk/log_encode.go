package sdk

import (
	"fmt"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// The OTLP protobuf encoding of logs (opentelemetry/proto/logs/v1/logs.proto).
// LogsData, ResourceLogs and ScopeLogs number their fields as TracesData,
// ResourceSpans and ScopeSpans do, so the batch framing, resource and scope
// encodings are shared (see batcher.seal).
const (
	scopeLogsLogRecords = 2

	logTimeUnixNano           = 1
	logSeverityNumber         = 2
	logSeverityText           = 3
	logBody                   = 5
	logAttributes             = 6
	logDroppedAttributesCount = 7
	logFlags                  = 8
	logTraceID                = 9
	logSpanID                 = 10
	logObservedTimeUnixNano   = 11
	logEventName              = 12
)

// logData is a log record as it is encoded: limits applied, timestamps in
// Unix nanoseconds (time 0: unknown), the trace context of the span it was
// emitted in (invalid: none).
type logData struct {
	time, observed int64
	severity       log.Severity
	severityText   string
	eventName      string
	body           attribute.Value
	attrs          []attribute.KeyValue
	dropped        int
	sc             trace.SpanContext
}

// appendLogContent appends the fields of a LogRecord message for d.
func appendLogContent(b []byte, d *logData) []byte {
	if d.time != 0 {
		b = appendFixed64(b, logTimeUnixNano, uint64(d.time))
	}
	b = appendFixed64(b, logObservedTimeUnixNano, uint64(d.observed))
	if d.severity > 0 {
		b = appendUint(b, logSeverityNumber, uint64(d.severity))
	}
	if d.severityText != "" {
		b = appendString(b, logSeverityText, d.severityText)
	}
	if d.body.Type() != attribute.EMPTY {
		b = appendAnyValue(b, logBody, d.body)
	}
	b = appendAttributes(b, logAttributes, d.attrs)
	b = appendUint(b, logDroppedAttributesCount, uint64(d.dropped))
	if d.sc.IsValid() {
		tid, sid := d.sc.TraceID(), d.sc.SpanID()
		b = appendFixed32(b, logFlags, uint32(d.sc.TraceFlags()))
		b = appendBytes(b, logTraceID, tid[:])
		b = appendBytes(b, logSpanID, sid[:])
	}
	if d.eventName != "" {
		b = appendString(b, logEventName, d.eventName)
	}
	return b
}

// logValueBytes is a lower bound of the encoded size of d's string values
// (body and attributes, not nested ones): a record known to be over the
// bound is cut before it is encoded whole.
func logValueBytes(d *logData) int {
	n := attrBytes(d.attrs)
	if d.body.Type() == attribute.STRING {
		n += len(d.body.AsString())
	}
	return n
}

// appendTrimmedLog appends the LogRecord fields of d cut to at most bound
// bytes: the string and byte values of the body and the attributes (nested
// ones too) are cut to the longest common length that fits; if even empty
// values do not fit, the attributes are dropped (counted) and the body
// emptied, and the severity text and event name cut to nameCut characters.
// It returns what it did for the OpenTelemetry error handler, for the
// caller to report once it holds no lock. d is not changed.
func appendTrimmedLog(b []byte, d *logData, bound int) (_ []byte, report []error) {
	start := len(b)
	t := *d
	t.attrs = make([]attribute.KeyValue, len(d.attrs))
	encode := func(limit int) bool {
		t.body, _ = normValue(d.body, limit, math.MaxInt32)
		for i, kv := range d.attrs {
			t.attrs[i] = kv
			t.attrs[i].Value, _ = normValue(kv.Value, limit, math.MaxInt32)
		}
		b = appendLogContent(b[:start], &t)
		return len(b)-start <= bound
	}
	// The largest limit that fits, by bisection: each try encodes a
	// record of at most about bound bytes, a rare path.
	lo, hi := -1, longestValue(d)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if encode(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo >= 0 {
		encode(lo)
		return b, []error{fmt.Errorf("spanbridge: log record is over the %d-byte record bound; cut its string and byte values to %d (raise the bound with SPANBRIDGE_MAX_BATCH_BYTES, up to %d with the dynptr probe)",
			bound, lo, MaxBatchBytes)}
	}
	t.body = attribute.Value{}
	t.attrs, t.dropped = nil, d.dropped+len(d.attrs)
	t.severityText = truncateString(d.severityText, nameCut)
	t.eventName = truncateString(d.eventName, nameCut)
	b = appendLogContent(b[:start], &t)
	return b, []error{fmt.Errorf("spanbridge: log record is over the %d-byte record bound even with empty values; dropped its body and %d attributes",
		bound, len(d.attrs))}
}

// longestValue is the length of the longest string or byte value in d's
// body and attributes, nested ones included.
func longestValue(d *logData) int {
	n := longestIn(d.body)
	for _, kv := range d.attrs {
		n = max(n, longestIn(kv.Value))
	}
	return n
}

// longestIn is the length of the longest string or byte value in v.
func longestIn(v attribute.Value) int {
	switch v.Type() {
	case attribute.STRING, attribute.BYTESLICE:
		return valueSize(v)
	case attribute.STRINGSLICE:
		n := 0
		for _, s := range v.AsStringSlice() {
			n = max(n, len(s))
		}
		return n
	case attribute.SLICE:
		n := 0
		for _, e := range v.AsSlice() {
			n = max(n, longestIn(e))
		}
		return n
	case attribute.MAP:
		n := 0
		for _, kv := range v.AsMap() {
			n = max(n, longestIn(kv.Value))
		}
		return n
	}
	return 0
}
