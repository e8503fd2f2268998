// Command pause is the pod sandbox image of the single-node cluster test
// (no image registry is reachable for registry.k8s.io/pause): it holds the
// pod's namespaces until SIGTERM or SIGINT, and reaps the children it
// inherits as a pid namespace's first process.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
