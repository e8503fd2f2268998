package sdk

import (
	"math"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP protobuf encoding (opentelemetry/proto/trace/v1/trace.proto and
// common/v1/common.proto), written straight from span data. Field numbers
// are named after the proto fields.
const (
	tracesDataResourceSpans = 1

	resourceSpansResource   = 1
	resourceSpansScopeSpans = 2
	resourceSpansSchemaURL  = 3

	resourceAttributes             = 1
	resourceDroppedAttributesCount = 2

	scopeSpansScope     = 1
	scopeSpansSpans     = 2
	scopeSpansSchemaURL = 3

	scopeName                   = 1
	scopeVersion                = 2
	scopeAttributes             = 3
	scopeDroppedAttributesCount = 4

	spanTraceID                = 1
	spanSpanID                 = 2
	spanTraceState             = 3
	spanParentSpanID           = 4
	spanName                   = 5
	spanKind                   = 6
	spanStartTimeUnixNano      = 7
	spanEndTimeUnixNano        = 8
	spanAttributes             = 9
	spanDroppedAttributesCount = 10
	spanEvents                 = 11
	spanDroppedEventsCount     = 12
	spanLinks                  = 13
	spanDroppedLinksCount      = 14
	spanStatus                 = 15
	spanFlags                  = 16

	eventTimeUnixNano           = 1
	eventName                   = 2
	eventAttributes             = 3
	eventDroppedAttributesCount = 4

	linkTraceID                = 1
	linkSpanID                 = 2
	linkTraceState             = 3
	linkAttributes             = 4
	linkDroppedAttributesCount = 5
	linkFlags                  = 6

	statusMessage = 2
	statusCode    = 3

	keyValueKey   = 1
	keyValueValue = 2

	anyValueString = 1
	anyValueBool   = 2
	anyValueInt    = 3
	anyValueDouble = 4
	anyValueArray  = 5
	anyValueKvlist = 6
	anyValueBytes  = 7

	arrayValueValues  = 1
	kvlistValueValues = 1

	// SpanFlags bits above the W3C trace flags: whether the parent (or the
	// linked span) is remote is known, and whether it is.
	flagsContextHasIsRemote = 0x100
	flagsContextIsRemote    = 0x200

	// OTLP status codes (codes.Code numbers them differently).
	otlpStatusOk    = 1
	otlpStatusError = 2
)

// appendTag appends a field tag. Every field number here but Span.flags is
// below 16, so the tag is one byte, written without protowire's general
// varint code (a fifth of the encoding time otherwise).
func appendTag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	if v := uint64(num)<<3 | uint64(typ&7); v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendTag(b, num, typ)
}

// appendVarint appends v, with a one-byte fast path for the short lengths
// and small numbers most fields hold.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// validUTF8 reports whether s is valid UTF-8. Short strings (most keys)
// are checked byte by byte, cheaper than the general check's setup; longer
// ones by utf8.ValidString, which reads 8 bytes at a time.
func validUTF8(s string) bool {
	if len(s) >= 16 {
		return utf8.ValidString(s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// beginMessage appends the tag of an embedded message field and a one-byte
// length placeholder, and returns where the message's content starts.
// Most embedded messages are shorter than 128 bytes; endMessage moves the
// longer ones, which is cheaper than sizing every message before writing it.
func beginMessage(b []byte, num protowire.Number) ([]byte, int) {
	b = appendTag(b, num, protowire.BytesType)
	b = append(b, 0)
	return b, len(b)
}

// endMessage writes the length of the message begun at start.
func endMessage(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[start+extra:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

// appendString appends a string field. Protobuf strings must be UTF-8, and
// one bad string would make the whole batch undecodable, so invalid bytes
// become U+FFFD.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if !validUTF8(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = appendTag(b, num, protowire.BytesType)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBytes appends a bytes field.
func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = appendTag(b, num, protowire.BytesType)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendUint appends a varint field unless v is zero.
func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = appendTag(b, num, protowire.VarintType)
	return appendVarint(b, v)
}

// appendFixed64 appends a fixed64 field.
func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	b = appendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// appendFixed32 appends a fixed32 field.
func appendFixed32(b []byte, num protowire.Number, v uint32) []byte {
	b = appendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

// appendAttributes appends each attribute as a KeyValue field num.
func appendAttributes(b []byte, num protowire.Number, attrs []attribute.KeyValue) []byte {
	for _, kv := range attrs {
		b = appendKeyValue(b, num, kv)
	}
	return b
}

// appendKeyValue appends one KeyValue message as field num.
func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	b, start := beginMessage(b, num)
	b = appendString(b, keyValueKey, string(kv.Key))
	b = appendAnyValue(b, keyValueValue, kv.Value)
	return endMessage(b, start)
}

// appendAnyValue appends v as an AnyValue message field num. A oneof member
// is written even when zero so that the receiver sees its type; an EMPTY
// value is an AnyValue with no member set.
func appendAnyValue(b []byte, num protowire.Number, v attribute.Value) []byte {
	b, start := beginMessage(b, num)
	switch v.Type() {
	case attribute.BOOL:
		b = appendTag(b, anyValueBool, protowire.VarintType)
		b = appendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = appendTag(b, anyValueInt, protowire.VarintType)
		b = appendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		b = appendFixed64(b, anyValueDouble, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		b = appendString(b, anyValueString, v.AsString())
	case attribute.BYTESLICE:
		b = appendBytes(b, anyValueBytes, v.AsByteSlice())
	case attribute.BOOLSLICE:
		b = appendArray(b, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		b = appendArray(b, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		b = appendArray(b, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		b = appendArray(b, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		b = appendArray(b, v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		var kvStart int
		b, kvStart = beginMessage(b, anyValueKvlist)
		b = appendAttributes(b, kvlistValueValues, v.AsMap())
		b = endMessage(b, kvStart)
	}
	return endMessage(b, start)
}

// appendArray appends an ArrayValue member holding vs.
func appendArray[T any](b []byte, vs []T, value func(T) attribute.Value) []byte {
	b, start := beginMessage(b, anyValueArray)
	for _, v := range vs {
		b = appendAnyValue(b, arrayValueValues, value(v))
	}
	return endMessage(b, start)
}

// otlpFlags returns the OTLP flags of a span whose parent (or a link to a
// span) is sc, with the span's own W3C trace flags.
func otlpFlags(own trace.TraceFlags, remote bool) uint32 {
	f := uint32(own) | flagsContextHasIsRemote
	if remote {
		f |= flagsContextIsRemote
	}
	return f
}

// appendSpanContent appends the fields of a Span message for d.
func appendSpanContent(b []byte, d *spanData) []byte {
	tid, sid := d.sc.TraceID(), d.sc.SpanID()
	b = appendBytes(b, spanTraceID, tid[:])
	b = appendBytes(b, spanSpanID, sid[:])
	if d.sc.TraceState().Len() > 0 {
		b = appendString(b, spanTraceState, d.sc.TraceState().String())
	}
	if d.parentID.IsValid() {
		b = appendBytes(b, spanParentSpanID, d.parentID[:])
	}
	b = appendFixed32(b, spanFlags, otlpFlags(d.sc.TraceFlags(), d.parentRemote))
	b = appendString(b, spanName, d.name)
	b = appendUint(b, spanKind, uint64(d.kind))
	b = appendFixed64(b, spanStartTimeUnixNano, uint64(d.start))
	b = appendFixed64(b, spanEndTimeUnixNano, uint64(d.end))
	b = appendAttributes(b, spanAttributes, d.attrs)
	b = appendUint(b, spanDroppedAttributesCount, uint64(d.droppedAttrs))
	for i := range d.events {
		b = appendEvent(b, &d.events[i])
	}
	b = appendUint(b, spanDroppedEventsCount, uint64(d.droppedEvents))
	for i := range d.links {
		b = appendLink(b, &d.links[i])
	}
	b = appendUint(b, spanDroppedLinksCount, uint64(d.droppedLinks))
	return appendStatus(b, d.status, d.statusDesc)
}

// appendEvent appends one Span.Event message.
func appendEvent(b []byte, e *event) []byte {
	b, start := beginMessage(b, spanEvents)
	b = appendFixed64(b, eventTimeUnixNano, uint64(e.time))
	b = appendString(b, eventName, e.name)
	b = appendAttributes(b, eventAttributes, e.attrs)
	b = appendUint(b, eventDroppedAttributesCount, uint64(e.dropped))
	return endMessage(b, start)
}

// appendLink appends one Span.Link message.
func appendLink(b []byte, l *link) []byte {
	b, start := beginMessage(b, spanLinks)
	tid, sid := l.sc.TraceID(), l.sc.SpanID()
	b = appendBytes(b, linkTraceID, tid[:])
	b = appendBytes(b, linkSpanID, sid[:])
	if l.sc.TraceState().Len() > 0 {
		b = appendString(b, linkTraceState, l.sc.TraceState().String())
	}
	b = appendAttributes(b, linkAttributes, l.attrs)
	b = appendUint(b, linkDroppedAttributesCount, uint64(l.dropped))
	b = appendFixed32(b, linkFlags, otlpFlags(l.sc.TraceFlags(), l.sc.IsRemote()))
	return endMessage(b, start)
}

// appendStatus appends the Status message unless the status is unset.
func appendStatus(b []byte, code codes.Code, desc string) []byte {
	var otlp uint64
	switch code {
	case codes.Ok:
		otlp = otlpStatusOk
	case codes.Error:
		otlp = otlpStatusError
	default:
		return b
	}
	b, start := beginMessage(b, spanStatus)
	if desc != "" {
		b = appendString(b, statusMessage, desc)
	}
	b = appendUint(b, statusCode, otlp)
	return endMessage(b, start)
}

// appendScope appends the InstrumentationScope message of a tracer.
func appendScope(b []byte, name, version string, attrs []attribute.KeyValue, dropped int) []byte {
	b, start := beginMessage(b, scopeSpansScope)
	if name != "" {
		b = appendString(b, scopeName, name)
	}
	if version != "" {
		b = appendString(b, scopeVersion, version)
	}
	b = appendAttributes(b, scopeAttributes, attrs)
	b = appendUint(b, scopeDroppedAttributesCount, uint64(dropped))
	return endMessage(b, start)
}
