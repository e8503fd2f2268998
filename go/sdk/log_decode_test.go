package sdk

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// A small decoder of OTLP LogsData for the tests, written against the field
// numbers of logs.proto independently of the encoder's constants. The
// bench module checks the same bytes against the official generated types.

type resourceLogs struct {
	resource  []keyValue
	schemaURL string
	scopes    []scopeLogs
}

type scopeLogs struct {
	name, version string
	attrs         []keyValue
	schemaURL     string
	records       []otlpLog
}

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
func decodeLogsBatch(t testing.TB, b []byte) []resourceLogs {
	t.Helper()
	msg, signal, ok := handoff.Payload(b)
	if !ok {
		t.Fatalf("batch does not start with the batch header: % x", b[:min(len(b), 16)])
	}
	if signal != handoff.SignalLogs {
		t.Fatalf("batch of signal %d, want logs (%d)", signal, handoff.SignalLogs)
	}
	var out []resourceLogs
	must(t, walk(msg, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
		if num != 1 {
			t.Fatalf("LogsData field %d", num)
		}
		var rl resourceLogs
		must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
			switch num {
			case 1:
				must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
					if num == 1 {
						rl.resource = append(rl.resource, decodeKV(t, b))
					}
				}))
			case 2:
				rl.scopes = append(rl.scopes, decodeScopeLogs(t, b))
			case 3:
				rl.schemaURL = string(b)
			}
		}))
		out = append(out, rl)
	}))
	return out
}

func decodeScopeLogs(t testing.TB, b []byte) scopeLogs {
	var sl scopeLogs
	must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
		switch num {
		case 1:
			must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
				switch num {
				case 1:
					sl.name = string(b)
				case 2:
					sl.version = string(b)
				case 3:
					sl.attrs = append(sl.attrs, decodeKV(t, b))
				}
			}))
		case 2:
			sl.records = append(sl.records, decodeLogRecord(t, b))
		case 3:
			sl.schemaURL = string(b)
		}
	}))
	return sl
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
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []otlpLog
	for _, b := range r.batches {
		for _, rl := range decodeLogsBatch(t, b) {
			for _, sl := range rl.scopes {
				out = append(out, sl.records...)
			}
		}
	}
	return out
}

// newTestLogProvider returns an attached log provider recording its
// batches, shut down at the end of the test.
func newTestLogProvider(t testing.TB, opts ...Option) (*LogProvider, *recorder) {
	t.Helper()
	attach(t)
	r := &recorder{}
	p := NewLoggerProvider(append([]Option{withSink(r.sink)}, opts...)...)
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return p, r
}

// onlyRecord returns the single log record recorded, or fails.
func onlyRecord(t testing.TB, p *LogProvider, r *recorder) otlpLog {
	t.Helper()
	p.Flush()
	recs := r.records(t)
	if len(recs) != 1 {
		t.Fatalf("got %d log records, want 1", len(recs))
	}
	if recs[0].unknownFieldCount > 0 {
		t.Errorf("record has %d fields outside logs.proto", recs[0].unknownFieldCount)
	}
	return recs[0]
}

// String renders a record for failure messages.
func (l otlpLog) String() string {
	return fmt.Sprintf("{time %d observed %d sev %d %q body %v attrs %v dropped %d flags %#x trace %x span %x event %q}",
		l.time, l.observed, l.severity, l.severityText, l.body, l.attrs, l.dropped, l.flags, l.traceID, l.spanID, l.eventName)
}
