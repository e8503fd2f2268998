package sdk

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Log records for the tests, decoded against the field numbers of
// logs.proto (the framing around them: decodeData in decode_test.go).

type otlpLog struct {
	time, observed    uint64
	severity          uint64
	severityText      string
	body              any
	hasBody           bool
	attrs             []keyValue
	dropped           uint64
	flags             uint32
	traceID, spanID   []byte
	eventName         string
	size              int
	unknownFieldCount int
}

// decodeLogsBatch decodes a batch, its batch header (signal logs) and the
// LogsData after it, or fails the test.
func decodeLogsBatch(t testing.TB, b []byte) []resourceGroup[otlpLog] {
	t.Helper()
	return decodeData(t, b, handoff.SignalLogs, decodeLogRecord)
}

func decodeLogRecord(t testing.TB, b []byte) otlpLog {
	l := otlpLog{size: len(b)}
	must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, v uint64) {
		switch num {
		case 1:
			l.time = v
		case 2:
			l.severity = v
		case 3:
			l.severityText = string(b)
		case 5:
			l.body, l.hasBody = decodeAny(t, b), true
		case 6:
			l.attrs = append(l.attrs, decodeKV(t, b))
		case 7:
			l.dropped = v
		case 8:
			l.flags = uint32(v)
		case 9:
			l.traceID = b
		case 10:
			l.spanID = b
		case 11:
			l.observed = v
		case 12:
			l.eventName = string(b)
		default:
			l.unknownFieldCount++
		}
	}))
	return l
}

// records decodes every batch as logs and returns their records in order.
func (r *recorder) records(t testing.TB) []otlpLog {
	t.Helper()
	return recorded(t, r, handoff.SignalLogs, decodeLogRecord)
}

// newTestLogProvider returns an attached log provider recording its
// batches, shut down at the end of the test.
func newTestLogProvider(t testing.TB, opts ...Option) (*LogProvider, *recorder) {
	t.Helper()
	r, opts := recording(t, opts)
	p := NewLoggerProvider(opts...)
	shutdownAtEnd(t, p)
	return p, r
}

// onlyRecord returns the single log record recorded, or fails.
func onlyRecord(t testing.TB, p *LogProvider, r *recorder) otlpLog {
	t.Helper()
	p.Flush()
	rec := single(t, r.records(t), "log records")
	if rec.unknownFieldCount > 0 {
		t.Errorf("record has %d fields outside logs.proto", rec.unknownFieldCount)
	}
	return rec
}

// String renders a record for failure messages.
func (l otlpLog) String() string {
	return fmt.Sprintf("{time %d observed %d sev %d %q body %v attrs %v dropped %d flags %#x trace %x span %x event %q}",
		l.time, l.observed, l.severity, l.severityText, l.body, l.attrs, l.dropped, l.flags, l.traceID, l.spanID, l.eventName)
}
