package sdk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// The process-wide providers, made on first use and configured from the
// environment.
var (
	traceOnce     sync.Once
	traceProvider *Provider

	logOnce     sync.Once
	logProvider atomic.Pointer[LogProvider] // nil until LoggerProvider is called
	// shutDown is set by Shutdown, so that a log provider made afterwards
	// starts stopped, as the tracer provider is.
	shutDown atomic.Bool
)

// TracerProvider returns the process-wide tracer provider, configured from
// the environment. Use it directly or install it with
// otel.SetTracerProvider.
func TracerProvider() trace.TracerProvider { return processProvider() }

// processProvider makes the process-wide tracer provider on first use.
func processProvider() *Provider {
	traceOnce.Do(func() { traceProvider = NewTracerProvider() })
	return traceProvider
}

// LoggerProvider returns the process-wide logger provider, configured from
// the environment. Use it directly, install it with
// go.opentelemetry.io/otel/log/global.SetLoggerProvider, or give it to a
// bridge such as otelslog.NewHandler(name, otelslog.WithLoggerProvider(...)).
func LoggerProvider() log.LoggerProvider { return processLogProvider() }

// processLogProvider makes the process-wide logger provider on first use.
func processLogProvider() *LogProvider {
	logOnce.Do(func() {
		p := NewLoggerProvider()
		if shutDown.Load() {
			_ = p.Shutdown(context.Background()) // nothing emitted yet: returns at once
		}
		logProvider.Store(p)
	})
	return logProvider.Load()
}

// Flush hands off every span that has ended and every log record emitted
// by the process-wide providers, before it returns.
func Flush() {
	processProvider().Flush()
	if lp := logProvider.Load(); lp != nil {
		lp.Flush()
	}
}

// ForceFlush hands off every span that has ended and every log record
// emitted by the process-wide providers, or fails when ctx ends first.
func ForceFlush(ctx context.Context) error {
	err := processProvider().ForceFlush(ctx)
	if lp := logProvider.Load(); lp != nil {
		err = errors.Join(err, lp.ForceFlush(ctx))
	}
	return err
}

// Shutdown flushes the process-wide providers and stops them: spans started
// and log records emitted afterwards are not recorded.
func Shutdown(ctx context.Context) error {
	shutDown.Store(true)
	err := processProvider().Shutdown(ctx)
	if lp := logProvider.Load(); lp != nil {
		err = errors.Join(err, lp.Shutdown(ctx))
	}
	return err
}
