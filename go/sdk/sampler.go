package sdk

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// randomnessBits is how many low bits of a trace ID a ratio sampler reads:
// the W3C Trace Context level 2 random part (the rightmost 7 bytes).
const randomnessBits = 56

// Sampler decides which new spans are recorded. Make one with AlwaysSample,
// NeverSample, TraceIDRatioBased or ParentBased.
type Sampler struct {
	// threshold: a root span is sampled when the trace ID's low 56 bits are
	// below it (0: never, 1<<56: always).
	threshold   uint64
	parentBased bool
}

// AlwaysSample returns a Sampler that records every span.
func AlwaysSample() Sampler { return Sampler{threshold: 1 << randomnessBits} }

// NeverSample returns a Sampler that records no span.
func NeverSample() Sampler { return Sampler{} }

// TraceIDRatioBased returns a Sampler that records the fraction of traces
// given by ratio (clamped to [0, 1]), deciding from the trace ID alone so
// that every participant decides alike.
func TraceIDRatioBased(ratio float64) Sampler {
	switch {
	case ratio >= 1:
		return AlwaysSample()
	case ratio <= 0 || math.IsNaN(ratio):
		return NeverSample()
	}
	return Sampler{threshold: uint64(ratio * (1 << randomnessBits))}
}

// ParentBased returns a Sampler that follows the parent's sampled flag when
// a span has a parent and asks root for root spans.
func ParentBased(root Sampler) Sampler {
	root.parentBased = true
	return root
}

// sample reports whether a span of traceID with parent is recorded.
func (s Sampler) sample(parent trace.SpanContext, traceID trace.TraceID) bool {
	if s.parentBased && parent.IsValid() {
		return parent.IsSampled()
	}
	return binary.BigEndian.Uint64(traceID[8:])&(1<<randomnessBits-1) < s.threshold
}

// samplerFromEnv returns the sampler named by OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG, parentbased_always_on when unset. Unknown names and
// bad ratios are reported to the OpenTelemetry error handler.
func samplerFromEnv() Sampler {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	ratio := func() float64 {
		arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
		if arg == "" {
			return 1
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			otel.Handle(fmt.Errorf("spanbridge: OTEL_TRACES_SAMPLER_ARG=%q is not a ratio in [0, 1]; using 1", arg))
			return 1
		}
		return r
	}
	switch name {
	case "always_on":
		return AlwaysSample()
	case "always_off":
		return NeverSample()
	case "traceidratio":
		return TraceIDRatioBased(ratio())
	case "", "parentbased_always_on":
		return ParentBased(AlwaysSample())
	case "parentbased_always_off":
		return ParentBased(NeverSample())
	case "parentbased_traceidratio":
		return ParentBased(TraceIDRatioBased(ratio()))
	}
	otel.Handle(fmt.Errorf("spanbridge: OTEL_TRACES_SAMPLER=%q is not supported; using parentbased_always_on", name))
	return ParentBased(AlwaysSample())
}
