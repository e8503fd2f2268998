package sdk

import "go.opentelemetry.io/otel/attribute"

// linearDedupMax is the attribute count up to which keys are compared one by
// one; past it a map is cheaper.
const linearDedupMax = 16

// addAttrs adds src to dst under the count and value length limits (negative:
// none), replacing the value of a key already in dst. It returns dst and how
// many attributes of src were dropped (invalid, or new past the count limit).
// dst may be src[:0]: the attributes are then filtered in place.
func addAttrs(dst, src []attribute.KeyValue, countLimit, lengthLimit int) ([]attribute.KeyValue, int) {
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
			dst[i] = truncateAttr(kv, lengthLimit)
			continue
		}
		if countLimit >= 0 && len(dst) >= countLimit {
			dropped++
			continue
		}
		dst = append(dst, truncateAttr(kv, lengthLimit))
		if index != nil {
			index[kv.Key] = len(dst) - 1
		}
	}
	return dst, dropped
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

// truncateAttr applies the value length limit to kv.
func truncateAttr(kv attribute.KeyValue, limit int) attribute.KeyValue {
	if limit < 0 {
		return kv
	}
	kv.Value = truncateValue(kv.Value, limit)
	return kv
}

// truncateValue cuts strings to limit characters and byte values to limit
// bytes, recursively in slices and maps.
func truncateValue(v attribute.Value, limit int) attribute.Value {
	switch v.Type() {
	case attribute.STRING:
		if s := v.AsString(); len(s) > limit {
			return attribute.StringValue(truncateString(s, limit))
		}
	case attribute.BYTESLICE:
		if b := v.AsByteSlice(); len(b) > limit {
			return attribute.ByteSliceValue(b[:limit])
		}
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		cut := false
		for i, s := range ss {
			if len(s) > limit {
				ss[i] = truncateString(s, limit)
				cut = true
			}
		}
		if cut {
			return attribute.StringSliceValue(ss)
		}
	case attribute.SLICE:
		vs := v.AsSlice()
		for i := range vs {
			vs[i] = truncateValue(vs[i], limit)
		}
		return attribute.SliceValue(vs...)
	case attribute.MAP:
		kvs := v.AsMap()
		for i := range kvs {
			kvs[i].Value = truncateValue(kvs[i].Value, limit)
		}
		return attribute.MapValue(kvs...)
	}
	return v
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
