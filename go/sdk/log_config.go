package sdk

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// Defaults of the log provider, those of the specification's batch log
// record processor where it has one.
const (
	// DefaultLogBatchTimeout is how long a log record waits at most before
	// its batch is handed off (OTEL_BLRP_SCHEDULE_DELAY).
	DefaultLogBatchTimeout = time.Second
	// DefaultLogMaxQueueSize is the most log records that wait to be handed
	// off (OTEL_BLRP_MAX_QUEUE_SIZE); see WithMaxQueueSize.
	DefaultLogMaxQueueSize = 2048
	// DefaultLogExportTimeout bounds ForceFlush and Shutdown of a log
	// provider given a context without a deadline (OTEL_BLRP_EXPORT_TIMEOUT).
	DefaultLogExportTimeout = 30 * time.Second
	// DefaultLogRecordAttributeCountLimit is the default number of
	// attributes a log record keeps.
	DefaultLogRecordAttributeCountLimit = 128
)

// LogRecordLimits bound what a log record keeps. Whatever the count limit
// drops is counted in the exported record's dropped_attributes_count. A
// negative limit means no limit; zero means nothing is kept.
type LogRecordLimits struct {
	// AttributeCountLimit is the number of attributes a record keeps;
	// further new keys are dropped (a repeated key keeps its last value).
	AttributeCountLimit int
	// AttributeValueLengthLimit truncates string values (each string of a
	// string slice, recursively in slice and map values) to this many
	// characters and byte values to this many bytes. The body is not cut.
	AttributeValueLengthLimit int
	// AttributeValueDepthLimit is the deepest nesting of slice and map
	// values kept, in attributes and the body, as for spans. Zero or
	// negative means the default.
	AttributeValueDepthLimit int
}

// NewLogRecordLimits returns the default limits overridden by the
// environment: OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT (else
// OTEL_ATTRIBUTE_COUNT_LIMIT), OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT
// (else OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) and
// OTEL_ATTRIBUTE_VALUE_DEPTH_LIMIT.
func NewLogRecordLimits() LogRecordLimits {
	return LogRecordLimits{
		AttributeCountLimit: envInt(DefaultLogRecordAttributeCountLimit,
			"OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
		AttributeValueLengthLimit: envInt(DefaultAttributeValueLengthLimit,
			"OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
		AttributeValueDepthLimit: envInt(DefaultAttributeValueDepthLimit, "OTEL_ATTRIBUTE_VALUE_DEPTH_LIMIT"),
	}
}

// newLogConfig returns the log provider's configuration from the
// environment, overridden by opts, with out-of-range values replaced and
// reported to the OpenTelemetry error handler.
func newLogConfig(opts []Option) config {
	cfg := config{
		logLimits:     NewLogRecordLimits(),
		batchTimeout:  envMillis(DefaultLogBatchTimeout, "OTEL_BLRP_SCHEDULE_DELAY"),
		maxBatchItems: envInt(DefaultMaxExportBatchSize, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"),
		maxBatchBytes: envInt(DefaultMaxBatchBytes, "SPANBRIDGE_MAX_BATCH_BYTES"),
		maxQueueSize:  envInt(DefaultLogMaxQueueSize, "OTEL_BLRP_MAX_QUEUE_SIZE"),
		exportTimeout: envMillis(DefaultLogExportTimeout, "OTEL_BLRP_EXPORT_TIMEOUT"),
		sink:          handoff.Ended,
	}
	for _, o := range opts {
		cfg = o.apply(cfg)
	}
	cfg.checkBatch(DefaultLogBatchTimeout)
	if cfg.maxQueueSize < 1 {
		otel.Handle(fmt.Errorf("spanbridge: max queue size %d is below 1; using %d", cfg.maxQueueSize, DefaultLogMaxQueueSize))
		cfg.maxQueueSize = DefaultLogMaxQueueSize
	}
	if cfg.maxBatchItems > cfg.maxQueueSize {
		// The specification: the batch size must not exceed the queue size.
		otel.Handle(fmt.Errorf("spanbridge: max export batch size %d is over the max queue size %d; using %d",
			cfg.maxBatchItems, cfg.maxQueueSize, cfg.maxQueueSize))
		cfg.maxBatchItems = cfg.maxQueueSize
	}
	if cfg.exportTimeout <= 0 {
		otel.Handle(fmt.Errorf("spanbridge: export timeout %v is not positive; using %v", cfg.exportTimeout, DefaultLogExportTimeout))
		cfg.exportTimeout = DefaultLogExportTimeout
	}
	if cfg.logLimits.AttributeValueDepthLimit <= 0 {
		cfg.logLimits.AttributeValueDepthLimit = DefaultAttributeValueDepthLimit
	}
	return cfg
}

// envMillis is envInt for a duration given in milliseconds.
func envMillis(def time.Duration, keys ...string) time.Duration {
	return time.Duration(envInt(int(def/time.Millisecond), keys...)) * time.Millisecond
}

// WithLogRecordLimits (logs) sets the log record limits (default:
// NewLogRecordLimits()).
func WithLogRecordLimits(l LogRecordLimits) Option {
	return optionFunc(func(c config) config { c.logLimits = l; return c })
}

// WithMaxQueueSize (logs) sets the most log records that wait to be handed
// off (default: OTEL_BLRP_MAX_QUEUE_SIZE, else DefaultLogMaxQueueSize). A
// record is encoded into its batch when emitted and a full batch is handed
// off at once, so records wait only in open batches (at most the export
// batch size each) and, while no probe is attached, in the batches held for
// it: past this many held records the oldest held batches are dropped, as
// the specification's processor drops records past a full queue. The export
// batch size is lowered to it if larger.
func WithMaxQueueSize(n int) Option {
	return optionFunc(func(c config) config { c.maxQueueSize = n; return c })
}

// WithExportTimeout (logs) bounds how long ForceFlush and Shutdown of the
// log provider wait when their context has no deadline (default:
// OTEL_BLRP_EXPORT_TIMEOUT milliseconds, else DefaultLogExportTimeout). A
// hand-off is one function call that the probe copies from, so it is the
// wait for the hand-offs under way that it bounds.
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.exportTimeout = d; return c })
}
