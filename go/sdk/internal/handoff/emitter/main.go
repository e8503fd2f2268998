// Command emitter hands raw payloads to the probe point, for the probe's
// tests. It waits until a probe is attached (the SDK's first-instruction
// check), then calls handoff.Ended -count times with a payload of each of
// -sizes, in order, prints "sent N" (N payloads in all) and exits.
//
// Payload byte i of a payload of size s is (i*31 + s) & 0xff, so a test can
// check every byte it receives.
//
//	emitter -sizes 1,4096,65536 -count 10 -wait-attach 10s
//
// With -spans it ends spans through the SDK instead, each span a batch of
// its own (with its batch header and sequence): for each line N read from
// standard input it ends N spans (from -goroutines goroutines at once) and
// prints "sent N"; at the end of input it shuts the SDK down and exits. A
// test drives the phases of a run this way.
//
//	echo 100 | OTEL_SERVICE_NAME=x emitter -spans -goroutines 4
//
// It exits with status 1 if no probe is attached within -wait-attach (0:
// do not wait), and 2 on bad flags.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/internal/handoff"
)

func main() {
	sizesFlag := flag.String("sizes", "1", "comma-separated payload sizes in bytes")
	count := flag.Int("count", 1, "how many times to send each size")
	wait := flag.Duration("wait-attach", 10*time.Second, "how long to wait for a probe (0: do not wait)")
	spans := flag.Bool("spans", false, "end spans through the SDK, one batch each, as many as each line of standard input says")
	goroutines := flag.Int("goroutines", 1, "with -spans: end each line's spans from this many goroutines at once")
	flag.Parse()
	if *spans {
		if *goroutines < 1 {
			fmt.Fprintf(os.Stderr, "emitter: bad flags: -goroutines %d is below 1\n", *goroutines)
			os.Exit(2)
		}
		os.Exit(emitSpans(*wait, *goroutines))
	}

	sizes, err := parseSizes(*sizesFlag)
	if err != nil || *count < 0 {
		fmt.Fprintf(os.Stderr, "emitter: bad flags: -sizes %q -count %d: %v\n", *sizesFlag, *count, err)
		os.Exit(2)
	}
	if *wait > 0 && !waitAttached(*wait) {
		fmt.Fprintf(os.Stderr, "emitter: no probe attached after %v\n", *wait)
		os.Exit(1)
	}
	payloads := make([][]byte, len(sizes))
	for i, size := range sizes {
		payloads[i] = payload(size)
	}
	sent := 0
	for range *count {
		for _, p := range payloads {
			handoff.Ended(p)
			sent++
		}
	}
	fmt.Printf("sent %d\n", sent)
}

// emitSpans ends spans through the SDK as standard input says, from
// goroutines goroutines, and returns the exit status.
func emitSpans(wait time.Duration, goroutines int) int {
	p := sdk.NewTracerProvider(sdk.WithMaxExportBatchSize(1))
	if wait > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		attached := sdk.WaitAttached(ctx)
		cancel()
		if !attached {
			fmt.Fprintf(os.Stderr, "emitter: no probe attached after %v\n", wait)
			return 1
		}
	}
	tr := p.Tracer("emitter")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "emitter: bad span count %q on standard input\n", in.Text())
			return 2
		}
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Goroutine g ends spans g, g+goroutines, ... of the n.
				for i := g; i < n; i += goroutines {
					_, s := tr.Start(context.Background(), "emit")
					s.End()
				}
			}()
		}
		wg.Wait()
		fmt.Printf("sent %d\n", n)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "emitter: %v\n", err)
		return 1
	}
	return 0
}

// parseSizes parses a comma-separated list of non-negative sizes.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("parse size %q: %w", f, err)
		}
		if n < 0 {
			return nil, fmt.Errorf("size %d is negative", n)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// payload returns the deterministic payload of size bytes.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*31 + size)
	}
	return b
}

// waitAttached polls the probe point until a probe is there or d passes.
func waitAttached(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !handoff.Refresh() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
