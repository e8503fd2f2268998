package sdk

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// version is the SDK's telemetry.sdk.version.
const version = "0.1.0"

// resourceAttrs returns the resource attributes: the SDK's own, this
// process's, then those of OTEL_RESOURCE_ATTRIBUTES, then service.name from
// OTEL_SERVICE_NAME, a later one replacing an earlier one of the same key.
// The controller adds host attributes and its own view of the process.
func resourceAttrs() []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		semconv.TelemetrySDKName("spanbridge"),
		semconv.TelemetrySDKLanguageGo,
		semconv.TelemetrySDKVersion(version),
	}
	attrs = append(attrs, processAttrs()...)
	attrs = append(attrs, parseResourceAttrs(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"))...)
	if name := strings.TrimSpace(os.Getenv("OTEL_SERVICE_NAME")); name != "" {
		attrs = append(attrs, semconv.ServiceName(name))
	}
	attrs, _ = addAttrs(attrs[:0], attrs, -1, &resourceLimits)
	return attrs
}

// resourceLimits only deduplicate: resource attributes are not limited.
var resourceLimits = SpanLimits{AttributeValueLengthLimit: -1, AttributeValueDepthLimit: DefaultAttributeValueDepthLimit}

// processAttrs describes this process. The controller describes it too,
// from /proc, but a short-lived process may be gone by the time its spans
// are read: these keep its spans attributed.
func processAttrs() []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		semconv.ProcessPID(os.Getpid()),
		semconv.ProcessRuntimeName("go"),
		semconv.ProcessRuntimeVersion(runtime.Version()),
		semconv.ProcessRuntimeDescription(fmt.Sprintf("go version %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)),
	}
	if exe, err := os.Executable(); err == nil {
		attrs = append(attrs, semconv.ProcessExecutableName(filepath.Base(exe)), semconv.ProcessExecutablePath(exe))
	}
	return append(attrs, semconv.ProcessCommandArgs(os.Args...))
}

// parseResourceAttrs parses the W3C Baggage-like list of
// OTEL_RESOURCE_ATTRIBUTES (key=value pairs separated by commas, values
// percent-encoded). A bad pair is reported and skipped.
func parseResourceAttrs(s string) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			otel.Handle(fmt.Errorf("spanbridge: OTEL_RESOURCE_ATTRIBUTES: %q is not key=value", pair))
			continue
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			otel.Handle(fmt.Errorf("spanbridge: OTEL_RESOURCE_ATTRIBUTES: value of %q: %w", k, err))
			continue
		}
		attrs = append(attrs, attribute.String(k, val))
	}
	return attrs
}

// encodeResource returns the ResourceSpans.resource and .schema_url fields.
// A resource over maxHeaderBytes keeps only the SDK's attributes and
// service.name, with the others counted as dropped.
func encodeResource(attrs []attribute.KeyValue) []byte {
	enc := func(attrs []attribute.KeyValue, dropped int) []byte {
		b, start := beginMessage(nil, resourceSpansResource)
		b = appendAttributes(b, resourceAttributes, attrs)
		b = appendUint(b, resourceDroppedAttributesCount, uint64(dropped))
		b = endMessage(b, start)
		return appendString(b, resourceSpansSchemaURL, semconv.SchemaURL)
	}
	b := enc(attrs, 0)
	if len(b) <= maxHeaderBytes {
		return b
	}
	var kept []attribute.KeyValue
	for _, kv := range attrs {
		switch kv.Key {
		case semconv.TelemetrySDKNameKey, semconv.TelemetrySDKLanguageKey, semconv.TelemetrySDKVersionKey, semconv.ServiceNameKey,
			semconv.ProcessPIDKey, semconv.ProcessRuntimeNameKey, semconv.ProcessRuntimeVersionKey, semconv.ProcessExecutableNameKey:
			kept = append(kept, kv)
		}
	}
	otel.Handle(fmt.Errorf("spanbridge: resource is %d bytes encoded, over the %d-byte limit; dropping %d attributes",
		len(b), maxHeaderBytes, len(attrs)-len(kept)))
	return enc(kept, len(attrs)-len(kept))
}
