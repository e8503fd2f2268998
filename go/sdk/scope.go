package sdk

import (
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
)

// scopeKey identifies an instrumentation scope.
type scopeKey struct {
	name, version, schemaURL string
	attrs                    attribute.Distinct
}

// scopes holds the one instrument (a tracer, a logger) of each
// instrumentation scope of a provider.
type scopes[T any] struct {
	mu    sync.Mutex
	byKey map[scopeKey]T
}

// get returns the instrument of the scope name, version, schemaURL and
// attrs. The first call for a scope encodes it and makes its instrument
// with make, under s's lock: make may register the instrument's batcher
// with the provider's pipeline.
func (s *scopes[T]) get(name, version, schemaURL string, attrs attribute.Set, make func(scope []byte) T) T {
	key := scopeKey{name: name, version: version, schemaURL: schemaURL, attrs: attrs.Equivalent()}
	s.mu.Lock()
	t, ok := s.byKey[key]
	s.mu.Unlock()
	if ok {
		return t
	}
	// Encoded outside s.mu: an oversized scope is reported to the error
	// handler, which may well ask for a tracer or a logger itself.
	scope := encodeScope(name, version, schemaURL, attrs.ToSlice())
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.byKey[key]; ok {
		return t
	}
	if s.byKey == nil {
		s.byKey = map[scopeKey]T{}
	}
	t = make(scope)
	s.byKey[key] = t
	return t
}

// encodeScope returns the Scope{Spans,Logs}.scope and .schema_url fields
// (their field numbers are the same). A scope over maxHeaderBytes loses its
// attributes, counted as dropped.
func encodeScope(name, version, schemaURL string, attrs []attribute.KeyValue) []byte {
	enc := func(attrs []attribute.KeyValue, dropped int) []byte {
		b := appendScope(nil, name, version, attrs, dropped)
		if schemaURL != "" {
			b = appendString(b, scopeSpansSchemaURL, schemaURL)
		}
		return b
	}
	b := enc(attrs, 0)
	if len(b) > maxHeaderBytes {
		otel.Handle(fmt.Errorf("spanbridge: scope %q is %d bytes encoded, over the %d-byte limit; dropping its attributes",
			name, len(b), maxHeaderBytes))
		b = enc(nil, len(attrs))
	}
	if len(b) > maxHeaderBytes {
		otel.Handle(fmt.Errorf("spanbridge: scope name, version and schema URL are %d bytes encoded, over the %d-byte limit; dropping them",
			len(b), maxHeaderBytes))
		b = appendScope(nil, "", "", nil, len(attrs))
	}
	return b
}
