// Command storm executes the files of a directory, round robin, as fast as
// asked (an exec storm for testing/storm.ts): each one forked, executed and
// waited for, by several workers at once, optionally as another user. It
// prints one JSON line: how many execs were made and failed, and the time.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", "", "directory whose files are executed")
	rate := flag.Int("rate", 5000, "execs per second, all workers together")
	duration := flag.Duration("duration", 3*time.Second, "how long the storm lasts")
	workers := flag.Int("workers", 16, "execs in flight at once")
	uid := flag.Int("uid", -1, "run the programs as this user (needs root)")
	gid := flag.Int("gid", -1, "and this group")
	flag.Parse()
	entries, err := os.ReadDir(*dir)
	if err != nil || len(entries) == 0 {
		fmt.Fprintf(os.Stderr, "storm: cannot list programs in %q: %v\n", *dir, err)
		os.Exit(2)
	}
	paths := make([]string, 0, len(entries))
	for _, e := range entries {
		paths = append(paths, filepath.Join(*dir, e.Name()))
	}
	sort.Strings(paths)
	attr := &syscall.ProcAttr{Sys: &syscall.SysProcAttr{}}
	if *uid >= 0 {
		attr.Sys.Credential = &syscall.Credential{
			Uid: uint32(*uid), Gid: uint32(*gid), NoSetGroups: true,
		}
	}

	var next, done, failed atomic.Int64
	start := time.Now()
	deadline := start.Add(*duration)
	interval := time.Duration(float64(time.Second) / float64(*rate))
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				// Paced: exec i is due at start + i * interval.
				due := start.Add(time.Duration(i) * interval)
				if due.After(deadline) {
					return
				}
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				path := paths[int(i)%len(paths)]
				pid, err := syscall.ForkExec(path, []string{path}, attr)
				if err != nil {
					failed.Add(1)
					continue
				}
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"execs":   done.Load(),
		"failed":  failed.Load(),
		"seconds": elapsed,
		"rate":    float64(done.Load()) / elapsed,
	})
}
