package main

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
	"go.opentelemetry.io/otel/trace"
)

func TestPayloadIsDeterministic(t *testing.T) {
	p := payload(300)
	for i, b := range p {
		if b != byte((i*31+300)&0xff) {
			t.Fatalf("byte %d = %d", i, b)
		}
	}
	if len(payload(0)) != 0 {
		t.Error("payload(0) is not empty")
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("1, 4096,65536")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 4096 || got[2] != 65536 {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "-1", "1,,2"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) succeeded", bad)
		}
	}
}

// Even records carry the fixed span's IDs, odd ones none.
func TestLogEmitterAlternatesInAndOutOfASpan(t *testing.T) {
	var got []bool
	emit := logEmitter(recordingLogger{fn: func(ctx context.Context, r log.Record) {
		got = append(got, trace.SpanContextFromContext(ctx).IsValid())
		if r.Body().AsString() != "emit "+strconv.Itoa(len(got)-1) {
			t.Errorf("body %q", r.Body().AsString())
		}
	}})
	for i := range 4 {
		emit(i)
	}
	if len(got) != 4 || !got[0] || got[1] || !got[2] || got[3] {
		t.Errorf("in a span: %v, want true false true false", got)
	}
}

// recordingLogger calls fn with every record emitted.
type recordingLogger struct {
	embedded.Logger
	fn func(context.Context, log.Record)
}

func (recordingLogger) Enabled(context.Context, log.EnabledParameters) bool { return true }
func (l recordingLogger) Emit(ctx context.Context, r log.Record)            { l.fn(ctx, r) }
