// Command reexec is the end-to-end test program of a traced process that
// executes a program in place (tests/reexec_test.ts): it makes -n spans
// named "gen <g>", hands them off and runs on for -settle, as a service
// would; its first generation then executes itself again with -gen 2 (same
// pid, same start time, another command line), and the second, which also
// waits -settle before its spans, exits. A tracer must describe each
// generation as what it runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/spanbridge/spanbridge/go/sdk"
)

func main() {
	n := flag.Int("n", 5, "spans per generation")
	gen := flag.Int("gen", 1, "which generation this is (the first executes the second)")
	settle := flag.Duration("settle", 0, "how long each generation runs on after its spans (and the second waits before them)")
	wait := flag.Duration("wait-attach", 10*time.Second, "how long to wait for the probe")
	flag.Parse()
	if err := run(*n, *gen, *settle, *wait); err != nil {
		fmt.Fprintf(os.Stderr, "reexec: %v\n", err)
		os.Exit(1)
	}
}

func run(n, gen int, settle, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	attached := sdk.WaitAttached(ctx)
	cancel()
	if !attached {
		return fmt.Errorf("generation %d: no probe attached within %v", gen, wait)
	}
	if gen > 1 {
		time.Sleep(settle)
	}
	tracer := sdk.TracerProvider().Tracer("spanbridge/testing/reexec")
	for range n {
		_, span := tracer.Start(context.Background(), fmt.Sprintf("gen %d", gen))
		span.End()
	}
	if err := sdk.Shutdown(context.Background()); err != nil {
		return fmt.Errorf("shut the SDK down: %w", err)
	}
	time.Sleep(settle)
	if gen > 1 {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this executable: %w", err)
	}
	args := []string{os.Args[0], "-n", strconv.Itoa(n), "-gen", "2", "-settle", settle.String()}
	return fmt.Errorf("execute %s again: %w", exe, syscall.Exec(exe, args, os.Environ()))
}
