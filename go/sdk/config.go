package sdk

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Batching bounds. The byte bounds are those of bpf/ended.h.
const (
	// DefaultBatchTimeout is how long an ended span waits at most before
	// its batch is handed off (OTEL_BSP_SCHEDULE_DELAY).
	DefaultBatchTimeout = 5 * time.Second
	// DefaultMaxExportBatchSize is the most spans a batch holds
	// (OTEL_BSP_MAX_EXPORT_BATCH_SIZE).
	DefaultMaxExportBatchSize = 512
	// DefaultMaxBatchBytes is the largest batch the probe's size-class
	// program carries (SB_MAX_RECORD_CLASSES, 256 KiB).
	DefaultMaxBatchBytes = 256 << 10
	// MaxBatchBytes is the largest batch the probe's dynptr program carries
	// (SB_MAX_RECORD_DYNPTR, 4 MiB): the upper bound of WithMaxBatchBytes.
	MaxBatchBytes = 4 << 20
	// MinBatchBytes is the lower bound of WithMaxBatchBytes: room for the
	// largest resource and scope headers and a span of 64 KiB.
	MinBatchBytes = 2*maxHeaderBytes + 64<<10
	// maxHeaderBytes bounds the encoded resource, and each scope, so that a
	// batch always has room for a span of the batch size minus
	// 2*maxHeaderBytes: the span size bound (see spanBytesFor).
	maxHeaderBytes = 16 << 10
	// spanFraming covers the tag and length of a span in its ScopeSpans.
	spanFraming = 16
	// refreshInterval is how often the attach state is read again.
	refreshInterval = 100 * time.Millisecond
)

// config is what a Provider or a LogProvider is made with.
type config struct {
	sampler Sampler
	// fast is sampler when it is built of this package's samplers only,
	// which decide from the parent's span context without the parameters.
	fast fastSampler
	// ids is nil for the default random generator, whose trace IDs are
	// random in the W3C sense.
	ids           IDGenerator
	limits        SpanLimits
	logLimits     LogRecordLimits
	batchTimeout  time.Duration
	maxBatchItems int
	maxBatchBytes int
	maxItemBytes  int // the span (log record) size bound
	// maxQueueSize and exportTimeout are the log provider's
	// (OTEL_BLRP_MAX_QUEUE_SIZE, OTEL_BLRP_EXPORT_TIMEOUT).
	maxQueueSize  int
	exportTimeout time.Duration
	// sink receives every batch: handoff.Ended, or a test's recorder.
	sink func(batch []byte)
}

// newConfig returns the configuration from the environment, overridden by
// opts, with out-of-range values replaced and reported to the OpenTelemetry
// error handler.
func newConfig(opts []Option) config {
	cfg := config{
		sampler:       samplerFromEnv(),
		limits:        NewSpanLimits(),
		batchTimeout:  envMillis(DefaultBatchTimeout, "OTEL_BSP_SCHEDULE_DELAY"),
		maxBatchItems: envInt(DefaultMaxExportBatchSize, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
		maxBatchBytes: envInt(DefaultMaxBatchBytes, "SPANBRIDGE_MAX_BATCH_BYTES"),
		sink:          handoff.Ended,
	}
	for _, o := range opts {
		cfg = o.apply(cfg)
	}
	cfg.checkBatch(DefaultBatchTimeout)
	if cfg.sampler == nil {
		otel.Handle(fmt.Errorf("spanbridge: sampler is nil; using ParentBased(AlwaysSample())"))
		cfg.sampler = ParentBased(AlwaysSample())
	}
	cfg.fast = asFast(cfg.sampler)
	if cfg.limits.AttributeValueDepthLimit <= 0 {
		cfg.limits.AttributeValueDepthLimit = DefaultAttributeValueDepthLimit
	}
	return cfg
}

// checkBatch replaces out-of-range batch settings, reporting each to the
// OpenTelemetry error handler, and sets the item size bound.
func (cfg *config) checkBatch(defaultTimeout time.Duration) {
	if cfg.batchTimeout <= 0 {
		otel.Handle(fmt.Errorf("spanbridge: batch timeout %v is not positive; using %v", cfg.batchTimeout, defaultTimeout))
		cfg.batchTimeout = defaultTimeout
	}
	if cfg.maxBatchItems < 1 {
		otel.Handle(fmt.Errorf("spanbridge: max export batch size %d is below 1; using %d", cfg.maxBatchItems, DefaultMaxExportBatchSize))
		cfg.maxBatchItems = DefaultMaxExportBatchSize
	}
	if cfg.maxBatchBytes < MinBatchBytes || cfg.maxBatchBytes > MaxBatchBytes {
		otel.Handle(fmt.Errorf("spanbridge: max batch bytes %d is outside [%d, %d]; using %d",
			cfg.maxBatchBytes, MinBatchBytes, MaxBatchBytes, DefaultMaxBatchBytes))
		cfg.maxBatchBytes = DefaultMaxBatchBytes
	}
	cfg.maxItemBytes = spanBytesFor(cfg.maxBatchBytes)
}

// configure sets p's signal and its batch bounds and sink from cfg.
func (p *pipeline) configure(signal uint8, cfg *config) {
	p.signal = signal
	p.batchTimeout = cfg.batchTimeout
	p.maxItems = cfg.maxBatchItems
	p.maxBatchBytes = cfg.maxBatchBytes
	p.maxItemBytes = cfg.maxItemBytes
	p.sink = cfg.sink
}

// spanBytesFor is the span size bound of batches of at most batchBytes: the
// batch minus room for the batch header and the largest resource and scope
// headers, so that any span that passes the bound fits in a batch of its own.
func spanBytesFor(batchBytes int) int {
	return batchBytes - handoff.HeaderSize - 2*maxHeaderBytes - spanFraming
}

// Option configures a Provider made by NewTracerProvider or a LogProvider
// made by NewLoggerProvider. Each option says which it applies to; one
// that does not apply to a provider is ignored by it.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithSampler (traces) sets the sampler (default: from OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG, else ParentBased(AlwaysSample())).
func WithSampler(s Sampler) Option {
	return optionFunc(func(c config) config { c.sampler = s; return c })
}

// WithIDGenerator (traces) sets the generator of trace and span IDs (default: random
// IDs from a per-thread ChaCha8 generator). Root spans carry the W3C random
// trace flag only with the default generator, whose randomness is known.
func WithIDGenerator(g IDGenerator) Option {
	return optionFunc(func(c config) config { c.ids = g; return c })
}

// WithSpanLimits (traces) sets the span limits (default: NewSpanLimits()).
func WithSpanLimits(l SpanLimits) Option {
	return optionFunc(func(c config) config { c.limits = l; return c })
}

// WithBatchTimeout sets how long an ended span (a log record) waits at most
// before its batch is handed off (default: OTEL_BSP_SCHEDULE_DELAY
// milliseconds, else DefaultBatchTimeout; for logs OTEL_BLRP_SCHEDULE_DELAY,
// else DefaultLogBatchTimeout).
func WithBatchTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.batchTimeout = d; return c })
}

// WithMaxExportBatchSize sets the most spans (log records) in one batch
// (default: OTEL_BSP_MAX_EXPORT_BATCH_SIZE, for logs
// OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, else DefaultMaxExportBatchSize). One
// makes a hand-off per span (log record).
func WithMaxExportBatchSize(n int) Option {
	return optionFunc(func(c config) config { c.maxBatchItems = n; return c })
}

// WithMaxBatchBytes sets the largest batch in bytes, between MinBatchBytes
// and MaxBatchBytes (default: SPANBRIDGE_MAX_BATCH_BYTES, else
// DefaultMaxBatchBytes). Raise it only when the controller runs the probe's
// dynptr program. It also bounds one span (log record): one larger than the
// batch size minus 32 KiB of header room has its largest values cut (see
// go/README.md). Applies to both providers.
func WithMaxBatchBytes(n int) Option {
	return optionFunc(func(c config) config { c.maxBatchBytes = n; return c })
}
