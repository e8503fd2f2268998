// Command scale_app is the short-lived SDK-linked process of the scale
// benchmark (bench/scale.ts): it waits for the controller's probe, makes
// -spans spans spread over -life, flushes them and exits, printing one JSON
// line: its pid, the Unix time in nanoseconds at which it saw the probe,
// whether the probe was there already at its first look, and the spans it
// made. The benchmark runs copies of it that differ in trailing bytes, so
// that the controller sees distinct binaries.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/spanbridge/spanbridge/go/sdk"
)

func main() {
	spans := flag.Int("spans", 20, "spans to make once attached")
	life := flag.Duration("life", time.Second, "how long to spread the spans over")
	wait := flag.Duration("wait", 10*time.Second, "how long to wait for the probe")
	flag.Parse()

	attachedAtStart := sdk.Attached()
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	attached := sdk.WaitAttached(ctx)
	cancel()
	seen := time.Now()
	made := 0
	if attached {
		tr := sdk.TracerProvider().Tracer("spanbridge/bench/scale_app")
		gap := *life / time.Duration(max(*spans, 1))
		for i := range *spans {
			_, s := tr.Start(context.Background(), "work", trace.WithAttributes(
				attribute.Int("scale.seq", i),
				attribute.String("scale.binary", os.Args[0]),
			))
			s.End()
			made++
			time.Sleep(gap)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := sdk.Shutdown(sctx)
		scancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "scale_app: flushing spans: %v\n", err)
			os.Exit(1)
		}
	}
	out, _ := json.Marshal(map[string]any{
		"pid":               os.Getpid(),
		"attached":          attached,
		"attached_at_start": attachedAtStart,
		"attached_unix_ns":  seen.UnixNano(),
		"spans":             made,
	})
	fmt.Println(string(out))
}
