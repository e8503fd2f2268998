package sdk

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestResource(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test, team=a%20b,service.name=from-attrs,bad,=x,broken=%zz")
	t.Setenv("OTEL_SERVICE_NAME", "checkout")
	p, r := newTestProvider(t)
	_, s := p.Tracer("test").Start(context.Background(), "op")
	s.End()
	p.Flush()
	td := decodeBatch(t, r.batches[0])
	rs := td.resourceSpans[0]
	m := attrMap(rs.resource)
	want := map[string]any{
		"telemetry.sdk.name":     "spanbridge",
		"telemetry.sdk.language": "go",
		"telemetry.sdk.version":  version,
		"service.name":           "checkout",
		"deployment.environment": "test",
		"team":                   "a b",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("resource %s = %v, want %v", k, m[k], v)
		}
	}
	exe, _ := os.Executable()
	process := map[string]any{
		"process.pid":                 int64(os.Getpid()),
		"process.runtime.name":        "go",
		"process.runtime.version":     runtime.Version(),
		"process.runtime.description": "go version " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"process.executable.name":     filepath.Base(exe),
		"process.executable.path":     exe,
	}
	for k, v := range process {
		if m[k] != v {
			t.Errorf("resource %s = %v (%T), want %v (%T)", k, m[k], m[k], v, v)
		}
		want[k] = v
	}
	if _, ok := m["process.command_args"]; !ok {
		t.Error("resource lacks process.command_args")
	}
	want["process.command_args"] = nil
	if len(m) != len(want) {
		t.Errorf("resource has %d attributes, want %d: %v", len(m), len(want), m)
	}
	if rs.schemaURL == "" {
		t.Error("resource has no schema URL")
	}
	if !reported(`"bad" is not key=value`) || !reported("broken") {
		t.Error("bad OTEL_RESOURCE_ATTRIBUTES entries were not reported")
	}
}

func TestResourceWithoutServiceName(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	for _, kv := range resourceAttrs() {
		if kv.Key == "service.name" {
			t.Errorf("service.name %q set without OTEL_SERVICE_NAME (the controller names the service)", kv.Value.AsString())
		}
	}
}
