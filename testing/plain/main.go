// Command plain is a Go program without the spanbridge SDK, for the container
// tests: it keeps working (a timer loop) until SIGTERM, so that an agent
// tracing the whole host sees a live Go process it must leave alone.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("plain: %d ticks\n", n)
			return
		case <-tick.C:
			n++
		}
	}
}
