package sdk

// Default span limits, as in the OpenTelemetry specification.
const (
	// DefaultAttributeValueLengthLimit means attribute values are not
	// truncated.
	DefaultAttributeValueLengthLimit = -1
	// DefaultAttributeCountLimit is the default number of attributes a span
	// keeps.
	DefaultAttributeCountLimit = 128
	// DefaultEventCountLimit is the default number of events a span keeps.
	DefaultEventCountLimit = 128
	// DefaultLinkCountLimit is the default number of links a span keeps.
	DefaultLinkCountLimit = 128
	// DefaultAttributePerEventCountLimit is the default number of attributes
	// an event keeps.
	DefaultAttributePerEventCountLimit = 128
	// DefaultAttributePerLinkCountLimit is the default number of attributes a
	// link keeps.
	DefaultAttributePerLinkCountLimit = 128
	// DefaultAttributeValueDepthLimit is the default depth of nested slice
	// and map values.
	DefaultAttributeValueDepthLimit = 64
)

// SpanLimits bound what a span records. Whatever a limit drops is counted in
// the exported span's dropped counts. A negative limit means no limit; zero
// means nothing is kept.
type SpanLimits struct {
	// AttributeValueLengthLimit truncates string values, each string of a
	// string slice and byte values to this many characters (bytes for byte
	// values), in span, event and link attributes, recursively in slice and
	// map values.
	AttributeValueLengthLimit int
	// AttributeValueDepthLimit is the deepest nesting of slice and map
	// values kept: the top-level value is at depth 1, each slice element
	// or map value one deeper, and a slice or map value deeper than the
	// limit becomes an empty value. Zero or negative means the default.
	AttributeValueDepthLimit int
	// AttributeCountLimit is the number of attributes a span keeps; further
	// new keys are dropped, updates of kept keys still apply.
	AttributeCountLimit int
	// EventCountLimit is the number of events a span keeps; the oldest are
	// dropped first.
	EventCountLimit int
	// LinkCountLimit is the number of links a span keeps; the oldest are
	// dropped first.
	LinkCountLimit int
	// AttributePerEventCountLimit is the number of attributes an event keeps.
	AttributePerEventCountLimit int
	// AttributePerLinkCountLimit is the number of attributes a link keeps.
	AttributePerLinkCountLimit int
}

// NewSpanLimits returns the default limits overridden by the environment:
// OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT (else
// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT), OTEL_SPAN_ATTRIBUTE_VALUE_DEPTH_LIMIT
// (else OTEL_ATTRIBUTE_VALUE_DEPTH_LIMIT), OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT (else
// OTEL_ATTRIBUTE_COUNT_LIMIT), OTEL_SPAN_EVENT_COUNT_LIMIT,
// OTEL_SPAN_LINK_COUNT_LIMIT, OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT and
// OTEL_LINK_ATTRIBUTE_COUNT_LIMIT (both else OTEL_ATTRIBUTE_COUNT_LIMIT).
func NewSpanLimits() SpanLimits {
	return SpanLimits{
		AttributeValueLengthLimit: envInt(DefaultAttributeValueLengthLimit,
			"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
		AttributeValueDepthLimit: envInt(DefaultAttributeValueDepthLimit,
			"OTEL_SPAN_ATTRIBUTE_VALUE_DEPTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_DEPTH_LIMIT"),
		AttributeCountLimit: envInt(DefaultAttributeCountLimit,
			"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
		EventCountLimit: envInt(DefaultEventCountLimit, "OTEL_SPAN_EVENT_COUNT_LIMIT"),
		LinkCountLimit:  envInt(DefaultLinkCountLimit, "OTEL_SPAN_LINK_COUNT_LIMIT"),
		AttributePerEventCountLimit: envInt(DefaultAttributePerEventCountLimit,
			"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
		AttributePerLinkCountLimit: envInt(DefaultAttributePerLinkCountLimit,
			"OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
	}
}
