package sdktest_test

import (
	"context"
	"testing"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/sdktest"
)

// A Record nested in a subtest gives the outer one back when the subtest
// ends, instead of detaching the SDK.
func TestRecordNestedInSubtestRestoresOuter(t *testing.T) {
	outer := sdktest.Record(t)
	p := sdk.NewTracerProvider()
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	span := func(name string) {
		_, s := p.Tracer("test").Start(context.Background(), name)
		s.End()
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("inner", func(t *testing.T) {
		inner := sdktest.Record(t)
		span("inner")
		if len(inner()) != 1 {
			t.Errorf("inner recorder has %d batches, want 1", len(inner()))
		}
	})
	if !sdk.Attached() {
		t.Fatal("the SDK is detached after the inner Record ended")
	}
	span("outer")
	if len(outer()) != 1 {
		t.Errorf("outer recorder has %d batches after the subtest, want 1", len(outer()))
	}
}
