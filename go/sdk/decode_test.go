package sdk

import (
	"fmt"
	"math"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// A small OTLP decoder for the tests, written against the proto field
// numbers independently of the encoder's constants. The bench module checks
// the same bytes against the official generated types. TracesData and
// LogsData share their framing (resource groups of scope groups of items),
// decoded once by decodeData; log_decode_test.go decodes log records.

type tracesData struct{ resourceSpans []resourceSpans }

// resourceGroup is a ResourceSpans or a ResourceLogs.
type resourceGroup[T any] struct {
	resource  []keyValue
	dropped   uint64
	schemaURL string
	scopes    []scopeGroup[T]
}

// scopeGroup is a ScopeSpans or a ScopeLogs; items are its spans or log
// records.
type scopeGroup[T any] struct {
	name, version string
	attrs         []keyValue
	dropped       uint64
	schemaURL     string
	items         []T
}

type (
	resourceSpans = resourceGroup[otlpSpan]
	scopeSpans    = scopeGroup[otlpSpan]
)

type otlpSpan struct {
	traceID, spanID, parentSpanID []byte
	traceState                    string
	flags                         uint32
	name                          string
	kind                          uint64
	start, end                    uint64
	attrs                         []keyValue
	droppedAttrs                  uint64
	events                        []otlpEvent
	droppedEvents                 uint64
	links                         []otlpLink
	droppedLinks                  uint64
	hasStatus                     bool
	statusCode                    uint64
	statusMessage                 string
	size                          int
}

type otlpEvent struct {
	time    uint64
	name    string
	attrs   []keyValue
	dropped uint64
}

type otlpLink struct {
	traceID, spanID []byte
	traceState      string
	attrs           []keyValue
	dropped         uint64
	flags           uint32
}

type keyValue struct {
	key   string
	value any // string, bool, int64, float64, []byte, []any, []keyValue, nil (empty)
}

// walk calls fn for each field of msg.
func walk(msg []byte, fn func(num protowire.Number, typ protowire.Type, b []byte, v uint64)) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			fn(num, typ, nil, v)
			msg = msg[n:]
		case protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			fn(num, typ, nil, v)
			msg = msg[n:]
		case protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			fn(num, typ, nil, uint64(v))
			msg = msg[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			fn(num, typ, v, 0)
			msg = msg[n:]
		default:
			return fmt.Errorf("unexpected wire type %d", typ)
		}
	}
	return nil
}

// decodeBatch decodes a batch, its batch header (which must be there) and
// the TracesData after it, or fails the test.
func decodeBatch(t testing.TB, b []byte) tracesData {
	t.Helper()
	return tracesData{resourceSpans: decodeData(t, b, handoff.SignalTraces, decodeSpan)}
}

// decodeData decodes a batch, its batch header (which must be there, of
// signal) and the TracesData or LogsData after it, each item with
// decodeItem, or fails the test.
func decodeData[T any](t testing.TB, b []byte, signal uint8, decodeItem func(testing.TB, []byte) T) []resourceGroup[T] {
	t.Helper()
	msg, got, ok := handoff.Payload(b)
	if !ok {
		t.Fatalf("batch does not start with the batch header: % x", b[:min(len(b), 16)])
	}
	if got != signal {
		t.Fatalf("batch of signal %d, want %d", got, signal)
	}
	var out []resourceGroup[T]
	must(t, walk(msg, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
		if num != 1 {
			t.Fatalf("data field %d in a batch of signal %d", num, signal)
		}
		var rg resourceGroup[T]
		must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
			switch num {
			case 1:
				must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, v uint64) {
					switch num {
					case 1:
						rg.resource = append(rg.resource, decodeKV(t, b))
					case 2:
						rg.dropped = v
					}
				}))
			case 2:
				rg.scopes = append(rg.scopes, decodeScope(t, b, decodeItem))
			case 3:
				rg.schemaURL = string(b)
			}
		}))
		out = append(out, rg)
	}))
	return out
}

func decodeScope[T any](t testing.TB, b []byte, decodeItem func(testing.TB, []byte) T) scopeGroup[T] {
	var sg scopeGroup[T]
	must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
		switch num {
		case 1:
			must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, v uint64) {
				switch num {
				case 1:
					sg.name = string(b)
				case 2:
					sg.version = string(b)
				case 3:
					sg.attrs = append(sg.attrs, decodeKV(t, b))
				case 4:
					sg.dropped = v
				}
			}))
		case 2:
			sg.items = append(sg.items, decodeItem(t, b))
		case 3:
			sg.schemaURL = string(b)
		}
	}))
	return sg
}

func decodeSpan(t testing.TB, b []byte) otlpSpan {
	s := otlpSpan{size: len(b)}
	must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, v uint64) {
		switch num {
		case 1:
			s.traceID = b
		case 2:
			s.spanID = b
		case 3:
			s.traceState = string(b)
		case 4:
			s.parentSpanID = b
		case 5:
			s.name = string(b)
		case 6:
			s.kind = v
		case 7:
			s.start = v
		case 8:
			s.end = v
		case 9:
			s.attrs = append(s.attrs, decodeKV(t, b))
		case 10:
			s.droppedAttrs = v
		case 11:
			var e otlpEvent
			must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, v uint64) {
				switch num {
				case 1:
					e.time = v
				case 2:
					e.name = string(b)
				case 3:
					e.attrs = append(e.attrs, decodeKV(t, b))
				case 4:
					e.dropped = v
				}
			}))
			s.events = append(s.events, e)
		case 12:
			s.droppedEvents = v
		case 13:
			var l otlpLink
			must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, v uint64) {
				switch num {
				case 1:
					l.traceID = b
				case 2:
					l.spanID = b
				case 3:
					l.traceState = string(b)
				case 4:
					l.attrs = append(l.attrs, decodeKV(t, b))
				case 5:
					l.dropped = v
				case 6:
					l.flags = uint32(v)
				}
			}))
			s.links = append(s.links, l)
		case 14:
			s.droppedLinks = v
		case 15:
			s.hasStatus = true
			must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, v uint64) {
				switch num {
				case 2:
					s.statusMessage = string(b)
				case 3:
					s.statusCode = v
				}
			}))
		case 16:
			s.flags = uint32(v)
		}
	}))
	return s
}

func decodeKV(t testing.TB, b []byte) keyValue {
	var kv keyValue
	must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, _ uint64) {
		switch num {
		case 1:
			kv.key = string(b)
		case 2:
			kv.value = decodeAny(t, b)
		}
	}))
	return kv
}

func decodeAny(t testing.TB, b []byte) any {
	var v any
	must(t, walk(b, func(num protowire.Number, _ protowire.Type, b []byte, x uint64) {
		switch num {
		case 1:
			v = string(b)
		case 2:
			v = x != 0
		case 3:
			v = int64(x)
		case 4:
			v = math.Float64frombits(x)
		case 5:
			vs := []any{}
			must(t, walk(b, func(_ protowire.Number, _ protowire.Type, b []byte, _ uint64) {
				vs = append(vs, decodeAny(t, b))
			}))
			v = vs
		case 6:
			kvs := []keyValue{}
			must(t, walk(b, func(_ protowire.Number, _ protowire.Type, b []byte, _ uint64) {
				kvs = append(kvs, decodeKV(t, b))
			}))
			v = kvs
		case 7:
			v = append([]byte{}, b...)
		}
	}))
	return v
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// want converts an attribute value to what decodeAny returns for it.
func want(v attribute.Value) any {
	switch v.Type() {
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return v.AsFloat64()
	case attribute.STRING:
		return v.AsString()
	case attribute.BYTESLICE:
		return v.AsByteSlice()
	case attribute.BOOLSLICE:
		return anys(v.AsBoolSlice())
	case attribute.INT64SLICE:
		return anys(v.AsInt64Slice())
	case attribute.FLOAT64SLICE:
		return anys(v.AsFloat64Slice())
	case attribute.STRINGSLICE:
		return anys(v.AsStringSlice())
	case attribute.SLICE:
		vs := []any{}
		for _, e := range v.AsSlice() {
			vs = append(vs, want(e))
		}
		return vs
	case attribute.MAP:
		return wantKVs(v.AsMap())
	}
	return nil
}

func anys[T any](vs []T) []any {
	out := []any{}
	for _, v := range vs {
		out = append(out, v)
	}
	return out
}

func wantKVs(kvs []attribute.KeyValue) []keyValue {
	out := []keyValue{}
	for _, kv := range kvs {
		out = append(out, keyValue{key: string(kv.Key), value: want(kv.Value)})
	}
	return out
}
