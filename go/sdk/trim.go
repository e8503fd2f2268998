package sdk

import (
	"cmp"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel"
)

// dropSlack covers the dropped-count fields that trimming adds.
const dropSlack = 16

// nameCut is what a span's name and status description are cut to when
// they alone make a span too large.
const nameCut = 1024

// appendTrimmedSpan appends the Span fields of d trimmed to at most max
// bytes: it drops the largest attributes first, then events, then links,
// counting them as dropped, until the span fits. d is not changed.
func appendTrimmedSpan(b []byte, d *spanData, max int) []byte {
	t := *d
	t.attrs = slices.Clone(d.attrs)
	t.events = slices.Clone(d.events)
	t.links = slices.Clone(d.links)
	var scratch []byte
	for {
		out := appendSpanContent(b, &t)
		over := len(out) - len(b) - max
		if over <= 0 {
			return out
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
			otel.Handle(fmt.Errorf("spanbridge: span %q is %d bytes without attributes, events and links, over the %d-byte limit; cutting its name and status description to %d characters",
				truncateString(t.name, 64), len(out)-len(b), max, nameCut))
			t.name = truncateString(t.name, nameCut)
			t.statusDesc = truncateString(t.statusDesc, nameCut)
			return appendSpanContent(b, &t)
		}
	}
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
