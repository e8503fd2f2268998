package sdk

import (
	"cmp"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/attribute"
)

// dropSlack covers the dropped-count fields that trimming adds.
const dropSlack = 16

// nameCut is what a span's name and status description are cut to when
// they alone make a span too large.
const nameCut = 1024

// valueBytes is a lower bound of the encoded size of d's string and byte
// attribute values, the ones that can make a span huge. Reading it costs a
// few nanoseconds per attribute and spares encoding a value of megabytes
// only to cut it afterwards.
func valueBytes(d *spanData) int {
	n := attrBytes(d.attrs)
	for i := range d.events {
		n += attrBytes(d.events[i].attrs)
	}
	for i := range d.links {
		n += attrBytes(d.links[i].attrs)
	}
	return n
}

// attrBytes sums the lengths of the string values in attrs (byte values have
// no length without a copy; the check after encoding catches them).
func attrBytes(attrs []attribute.KeyValue) int {
	n := 0
	for i := range attrs {
		if attrs[i].Value.Type() == attribute.STRING {
			n += len(attrs[i].Value.AsString())
		}
	}
	return n
}

// valueSize is the length of a string or byte value.
func valueSize(v attribute.Value) int {
	if v.Type() == attribute.BYTESLICE {
		return len(v.AsByteSlice())
	}
	return len(v.AsString())
}

// appendTrimmedSpan appends the Span fields of d trimmed to at most bound
// bytes, when d is known to need size bytes or more. It first cuts the
// largest string and byte values (of span, event and link attributes) to a
// common length; if the span still does not fit, it drops the largest
// attributes, then events, then links, counting them as dropped. It returns
// what it did for the OpenTelemetry error handler (the exported span has no
// field that counts cut values), for the caller to report once it holds no
// lock: a handler may well end spans itself. d is not changed.
func appendTrimmedSpan(b []byte, d *spanData, bound, size int) (_ []byte, report []error) {
	t := *d
	t.attrs = slices.Clone(d.attrs)
	t.events = slices.Clone(d.events)
	t.links = slices.Clone(d.links)
	for i := range t.events {
		t.events[i].attrs = slices.Clone(t.events[i].attrs)
	}
	for i := range t.links {
		t.links[i].attrs = slices.Clone(t.links[i].attrs)
	}
	cut, level := cutLargestValues(&t, size-bound+dropSlack)
	defer func() {
		if cut > 0 {
			report = append(report, fmt.Errorf("spanbridge: span %q is %d bytes or more encoded, over the %d-byte span bound; cut its %d largest string values to %d bytes (raise the bound with SPANBRIDGE_MAX_BATCH_BYTES, up to %d with the dynptr probe)",
				truncateString(t.name, 64), size, bound, cut, level, MaxBatchBytes))
		}
	}()
	var scratch []byte
	for {
		out := appendSpanContent(b, &t)
		over := len(out) - len(b) - bound
		if over <= 0 {
			return out, report
		}
		// The values' lengths do not count keys and framing: cut again
		// before dropping anything.
		if n, l := cutLargestValues(&t, over+dropSlack); n > 0 {
			cut, level = max(cut, n), l
			continue
		}
		var n int
		switch {
		case len(t.attrs) > 0:
			t.attrs, n = dropLargest(t.attrs, over+dropSlack, func(i int) int {
				scratch = appendKeyValue(scratch[:0], spanAttributes, t.attrs[i])
				return len(scratch)
			})
			t.droppedAttrs += n
		case len(t.events) > 0:
			t.events, n = dropLargest(t.events, over+dropSlack, func(i int) int {
				scratch = appendEvent(scratch[:0], &t.events[i])
				return len(scratch)
			})
			t.droppedEvents += n
		case len(t.links) > 0:
			t.links, n = dropLargest(t.links, over+dropSlack, func(i int) int {
				scratch = appendLink(scratch[:0], &t.links[i])
				return len(scratch)
			})
			t.droppedLinks += n
		default:
			report = append(report, fmt.Errorf("spanbridge: span %q is %d bytes without attributes, events and links, over the %d-byte limit; cutting its name and status description to %d characters",
				truncateString(t.name, 64), len(out)-len(b), bound, nameCut))
			t.name = truncateString(t.name, nameCut)
			t.statusDesc = truncateString(t.statusDesc, nameCut)
			return appendSpanContent(b, &t), report
		}
	}
}

// cutLargestValues cuts the longest string and byte attribute values of t
// (whose attribute slices t owns) to one common length, the largest that
// removes at least need bytes; it cuts nothing when all of them together
// are shorter than need. It returns how many values it cut and the length.
func cutLargestValues(t *spanData, need int) (cut, level int) {
	var vals []*attribute.KeyValue
	collect := func(attrs []attribute.KeyValue) {
		for i := range attrs {
			switch attrs[i].Value.Type() {
			case attribute.STRING, attribute.BYTESLICE:
				vals = append(vals, &attrs[i])
			}
		}
	}
	collect(t.attrs)
	for i := range t.events {
		collect(t.events[i].attrs)
	}
	for i := range t.links {
		collect(t.links[i].attrs)
	}
	size := func(kv *attribute.KeyValue) int { return valueSize(kv.Value) }
	total := 0
	for _, kv := range vals {
		total += size(kv)
	}
	if need <= 0 || total < need {
		// Cutting every value would not do: leave them to the drops, which
		// take the largest element whatever its type.
		return 0, 0
	}
	slices.SortFunc(vals, func(a, b *attribute.KeyValue) int { return cmp.Compare(size(b), size(a)) })
	// Lower the level from the longest value down: with the k longest cut
	// to level, sum-k*level bytes go.
	sum := 0
	for k := 1; k <= len(vals); k++ {
		sum += size(vals[k-1])
		next := 0
		if k < len(vals) {
			next = size(vals[k])
		}
		if sum-k*next >= need || k == len(vals) {
			level = max(0, (sum-need)/k)
			level = min(level, size(vals[0]))
			for _, kv := range vals[:k] {
				if size(kv) > level {
					kv.Value = cutValue(kv.Value, level)
					cut++
				}
			}
			return cut, level
		}
	}
	return 0, 0
}

// cutValue cuts a string to at most n bytes on a character boundary, or a
// byte value to n bytes.
func cutValue(v attribute.Value, n int) attribute.Value {
	if v.Type() == attribute.BYTESLICE {
		return attribute.ByteSliceValue(v.AsByteSlice()[:n])
	}
	s := v.AsString()
	i := n
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return attribute.StringValue(s[:i])
}

// dropLargest removes the largest elements of vs (by size, the encoded size
// of element i) until at least need bytes are gone, or all of them. Among
// equal sizes the later element goes first. It keeps the order of the rest
// and returns how many it removed.
func dropLargest[T any](vs []T, need int, size func(i int) int) ([]T, int) {
	idx := make([]int, len(vs))
	sizes := make([]int, len(vs))
	for i := range vs {
		idx[i], sizes[i] = i, size(i)
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(sizes[b], sizes[a]); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	drop := make([]bool, len(vs))
	n := 0
	for _, i := range idx {
		if need <= 0 {
			break
		}
		drop[i] = true
		need -= sizes[i]
		n++
	}
	kept := vs[:0]
	for i, v := range vs {
		if !drop[i] {
			kept = append(kept, v)
		}
	}
	return kept, n
}
