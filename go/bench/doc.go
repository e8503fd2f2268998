// Package bench compares the cost of a span in this SDK (detached, attached,
// and handing off once per span) with the OpenTelemetry Go SDK exporting
// OTLP over HTTP and with the no-op tracer, and checks the SDK's batches
// against the official OTLP protobuf types. It is a separate module so that
// the SDK's own dependencies stay small.
//
//	cd go/bench && go test -run '^$' -bench . -benchmem
package bench
