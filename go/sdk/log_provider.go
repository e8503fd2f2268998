package sdk

import (
	"context"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"

	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

// LogProvider is a log.LoggerProvider whose log records go to the probe, in
// batches of their own (batch header signal 2, an OTLP LogsData) through the
// same probe point as spans. Most programs use the process-wide one,
// LoggerProvider.
type LogProvider struct {
	embedded.LoggerProvider
	pipeline

	cfg     config
	loggers scopes[*logger]
}

var _ log.LoggerProvider = (*LogProvider)(nil)

// NewLoggerProvider returns a LogProvider with its own batches, configured
// from the environment (OTEL_BLRP_*, OTEL_LOGRECORD_*,
// SPANBRIDGE_MAX_BATCH_BYTES) and then opts; the options that apply to logs
// are WithBatchTimeout, WithMaxExportBatchSize, WithMaxBatchBytes,
// WithMaxQueueSize, WithExportTimeout and WithLogRecordLimits. Its resource
// is the tracer providers' resource. It starts a goroutine that hands off
// batches on time; Shutdown stops it.
func NewLoggerProvider(opts ...Option) *LogProvider {
	cfg := newLogConfig(opts)
	p := &LogProvider{cfg: cfg}
	p.configure(handoff.SignalLogs, &cfg)
	p.maxHeldItems = cfg.maxQueueSize
	p.start(encodeResource(resourceAttrs()))
	return p
}

// Logger returns the logger of an instrumentation scope: name and the
// options' version, schema URL and attributes. The same scope gets the same
// logger.
func (p *LogProvider) Logger(name string, options ...log.LoggerOption) log.Logger {
	c := log.NewLoggerConfig(options...)
	return p.loggers.get(name, c.InstrumentationVersion(), c.SchemaURL(), c.InstrumentationAttributes(), func(scope []byte) *logger {
		l := &logger{provider: p, batch: newBatcher(&p.pipeline, scope)}
		p.addBatcher(l.batch)
		return l
	})
}

// ForceFlush hands off every log record emitted so far (spec, logs SDK,
// ForceFlush), or fails when ctx ends first, or after the export timeout
// when ctx has no deadline; the hand-off then still completes in the
// background. A nil ctx has no deadline.
func (p *LogProvider) ForceFlush(ctx context.Context) error {
	ctx, cancel := p.withExportTimeout(ctx)
	defer cancel()
	return p.forceFlush(ctx)
}

// Flush hands off every log record emitted so far, before it returns:
// ForceFlush without a deadline.
func (p *LogProvider) Flush() { p.flush() }

// Shutdown flushes p and stops its goroutine; records emitted afterwards
// are dropped and Enabled reports false. Later calls do nothing. It fails
// only if ctx ends first, or the export timeout passes when ctx has no
// deadline.
func (p *LogProvider) Shutdown(ctx context.Context) error {
	ctx, cancel := p.withExportTimeout(ctx)
	defer cancel()
	return p.shutdown(ctx, "logger provider")
}

// withExportTimeout bounds ctx by the export timeout unless it has a
// deadline of its own.
func (p *LogProvider) withExportTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = orBackground(ctx)
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, p.cfg.exportTimeout)
}
