package sdk

import "go.opentelemetry.io/otel/attribute"

// linearDedupMax is the attribute count up to which keys are compared one by
// one; past it a map is cheaper.
const linearDedupMax = 16

// addAttrs adds src to dst under countLimit and the value limits of lim
// (negative count limit: none), replacing the value of a key already in dst.
// It returns dst and how many attributes of src were dropped (invalid, or new
// past the count limit). dst may be src[:0]: the attributes are then filtered
// in place.
func addAttrs(dst, src []attribute.KeyValue, countLimit int, lim *SpanLimits) ([]attribute.KeyValue, int) {
	if len(dst) == 0 && cap(dst) > 0 && len(src) > 0 && &dst[:1][0] == &src[0] && clean(src, countLimit, lim) {
		// In place with nothing to change: writing the attributes back
		// would cost a write barrier per pointer while the GC runs.
		return src, 0
	}
	var (
		dropped int
		index   map[attribute.Key]int
	)
	if len(dst)+len(src) > linearDedupMax {
		index = make(map[attribute.Key]int, len(dst)+len(src))
		for i, kv := range dst {
			index[kv.Key] = i
		}
	}
	for _, kv := range src {
		if !kv.Valid() {
			dropped++
			continue
		}
		if i := findKey(dst, index, kv.Key); i >= 0 {
			dst[i] = normAttr(kv, lim)
			continue
		}
		if countLimit >= 0 && len(dst) >= countLimit {
			dropped++
			continue
		}
		dst = append(dst, normAttr(kv, lim))
		if index != nil {
			index[kv.Key] = len(dst) - 1
		}
	}
	return dst, dropped
}

// clean reports whether attrs are valid, within countLimit, unique (checked
// pair by pair up to linearDedupMax) and unchanged by the value limits.
func clean(attrs []attribute.KeyValue, countLimit int, lim *SpanLimits) bool {
	if len(attrs) > linearDedupMax || (countLimit >= 0 && len(attrs) > countLimit) {
		return false
	}
	for i := range attrs {
		if !attrs[i].Valid() {
			return false
		}
		switch attrs[i].Value.Type() {
		case attribute.BOOL, attribute.INT64, attribute.FLOAT64:
		case attribute.STRING:
			if lim.AttributeValueLengthLimit >= 0 && len(attrs[i].Value.AsString()) > lim.AttributeValueLengthLimit {
				return false
			}
		default:
			return false
		}
		for j := range i {
			if attrs[j].Key == attrs[i].Key {
				return false
			}
		}
	}
	return true
}

// findKey returns the index of key in attrs (through index when there is
// one), or -1.
func findKey(attrs []attribute.KeyValue, index map[attribute.Key]int, key attribute.Key) int {
	if index != nil {
		if i, ok := index[key]; ok {
			return i
		}
		return -1
	}
	for i := range attrs {
		if attrs[i].Key == key {
			return i
		}
	}
	return -1
}

// normAttr applies the value length and depth limits to kv and keeps the
// last value of each key in map values.
func normAttr(kv attribute.KeyValue, lim *SpanLimits) attribute.KeyValue {
	if v, changed := normValue(kv.Value, lim.AttributeValueLengthLimit, lim.AttributeValueDepthLimit); changed {
		kv.Value = v
	}
	return kv
}

// normValue applies the value limits to v (spec, common, Attribute Limits):
// strings are cut to lengthLimit characters and byte values to lengthLimit
// bytes (negative: no limit); a slice or map value with depth (the levels
// left, counting v's) below 1 becomes empty; a map keeps the last value of
// each key, as the spec requires exported maps to hold unique keys. It
// reports whether v changed, so that unchanged values are not rebuilt.
func normValue(v attribute.Value, lengthLimit, depth int) (attribute.Value, bool) {
	switch v.Type() {
	case attribute.STRING:
		if s := v.AsString(); lengthLimit >= 0 && len(s) > lengthLimit {
			if cut := truncateString(s, lengthLimit); len(cut) < len(s) {
				return attribute.StringValue(cut), true
			}
		}
	case attribute.BYTESLICE:
		if depth < 1 {
			return attribute.Value{}, true
		}
		if b := v.AsByteSlice(); lengthLimit >= 0 && len(b) > lengthLimit {
			return attribute.ByteSliceValue(b[:lengthLimit]), true
		}
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE:
		if depth < 1 {
			return attribute.Value{}, true
		}
	case attribute.STRINGSLICE:
		if depth < 1 {
			return attribute.Value{}, true
		}
		if lengthLimit < 0 {
			return v, false
		}
		ss := v.AsStringSlice()
		cut := false
		for i, s := range ss {
			if len(s) > lengthLimit {
				ss[i] = truncateString(s, lengthLimit)
				cut = true
			}
		}
		if cut {
			return attribute.StringSliceValue(ss), true
		}
	case attribute.SLICE:
		if depth < 1 {
			return attribute.Value{}, true
		}
		vs := v.AsSlice()
		changed := false
		for i := range vs {
			var c bool
			if vs[i], c = normValue(vs[i], lengthLimit, depth-1); c {
				changed = true
			}
		}
		if changed {
			return attribute.SliceValue(vs...), true
		}
	case attribute.MAP:
		if depth < 1 {
			return attribute.Value{}, true
		}
		// AsMap returns a copy sorted by key, stably, so the values of a key
		// are adjacent and in the order given: the last one wins.
		kvs := v.AsMap()
		changed := false
		kept := kvs[:0]
		for i, kv := range kvs {
			if i+1 < len(kvs) && kvs[i+1].Key == kv.Key {
				changed = true
				continue
			}
			var c bool
			if kv.Value, c = normValue(kv.Value, lengthLimit, depth-1); c {
				changed = true
			}
			kept = append(kept, kv)
		}
		if changed {
			return attribute.MapValue(kept...), true
		}
	}
	return v, false
}

// truncateString returns the first limit characters of s. A string of at
// most limit bytes has at most limit characters and is returned whole.
func truncateString(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := 0
	for i := range s {
		if n == limit {
			return s[:i]
		}
		n++
	}
	return s
}
