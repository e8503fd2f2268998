// Command slog is the end-to-end test program of log export (tests/logs_test.ts):
// it writes log records through log/slog and the otelslog bridge over
// spanbridge's LoggerProvider, each inside a span of its own, then one record
// outside any span, and shuts the SDK down so every batch is handed off.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"

	"github.com/spanbridge/spanbridge/go/sdk"
)

func main() {
	n := flag.Int("n", 100, "spans, each with two log records")
	flag.Parse()
	tracer := sdk.TracerProvider().Tracer("spanbridge/testing/slog")
	logger := slog.New(otelslog.NewHandler("spanbridge/testing/slog",
		otelslog.WithLoggerProvider(sdk.LoggerProvider())))
	ctx := context.Background()
	logger.InfoContext(ctx, "starting", "spans", *n)
	for i := 0; i < *n; i++ {
		spanCtx, span := tracer.Start(ctx, fmt.Sprintf("op %d", i))
		logger.InfoContext(spanCtx, "working", "i", i)
		logger.WarnContext(spanCtx, "slow step", "i", i, "step", "db")
		span.End()
	}
	shutdown, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sdk.Shutdown(shutdown); err != nil {
		fmt.Fprintf(os.Stderr, "slog: cannot shut the SDK down: %v\n", err)
		os.Exit(1)
	}
}
