// Package sdktest lets tests and benchmarks run the SDK's attached path
// without a kernel probe.
package sdktest

import "github.com/spanbridge/spanbridge/go/sdk/internal/handoff"

// Attach makes the SDK behave as if the controller's probe were attached and
// calls fn with every batch handed off (an OTLP TracesData message, valid
// only during the call; fn must not call Flush or Shutdown), until detach
// is called. Spans started before
// Attach do not record. It is process-wide: tests that use it must not run
// in parallel with other tests of the SDK.
func Attach(fn func(batch []byte)) (detach func()) {
	return handoff.SetHook(fn)
}
