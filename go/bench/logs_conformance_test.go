package bench

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/contrib/bridges/otelzap"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/sdktest"
)

// recordLogs attaches the SDK for the test and returns the LogsData of
// every log batch so far, decoded with the official OTLP types (which also
// reject invalid UTF-8).
func recordLogs(t *testing.T) func() []*logspb.LogRecord {
	t.Helper()
	batches := sdktest.RecordSignal(t, sdktest.Logs)
	return func() []*logspb.LogRecord {
		var out []*logspb.LogRecord
		for _, b := range batches() {
			var ld logspb.LogsData
			if err := proto.Unmarshal(b, &ld); err != nil {
				t.Fatalf("unmarshal LogsData: %v", err)
			}
			for _, rl := range ld.GetResourceLogs() {
				for _, sl := range rl.GetScopeLogs() {
					out = append(out, sl.GetLogRecords()...)
				}
			}
		}
		return out
	}
}

func newLogProvider(t *testing.T) *sdk.LogProvider {
	p := sdk.NewLoggerProvider()
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return p
}

// The SDK's log batches decode with the official OTLP types and carry what
// the records held: every field of LogRecord, the resource and the scope.
func TestLogBatchesDecodeWithOTLPTypes(t *testing.T) {
	recorded := sdktest.RecordSignal(t, sdktest.Logs)
	p := newLogProvider(t)
	tp := sdk.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	defer span.End()

	var r log.Record
	ts := time.Unix(1700000000, 1)
	r.SetTimestamp(ts)
	r.SetObservedTimestamp(ts.Add(time.Millisecond))
	r.SetSeverity(log.SeverityError)
	r.SetSeverityText("ERROR")
	r.SetEventName("app.failure")
	r.SetBody(attribute.MapValue(attribute.String("msg", "bad \xff"), attribute.Slice("l", attribute.IntValue(1)),
		attribute.KeyValue{Key: "b", Value: attribute.ByteSliceValue([]byte{7})}))
	r.AddAttributes(attribute.String("s", "x"), attribute.Float64("f", 0.5), attribute.BoolSlice("bs", []bool{true}))
	r.SetErr(errors.New("boom"))
	p.Logger("conformance", log.WithInstrumentationVersion("1.0.0"), log.WithSchemaURL("https://opentelemetry.io/schemas/1.43.0")).Emit(ctx, r)
	p.Flush()

	batches := recorded()
	if len(batches) != 1 {
		t.Fatalf("%d log batches, want 1", len(batches))
	}
	var ld logspb.LogsData
	if err := proto.Unmarshal(batches[0], &ld); err != nil {
		t.Fatalf("unmarshal LogsData: %v", err)
	}
	rl := ld.GetResourceLogs()
	if len(rl) != 1 || len(rl[0].GetScopeLogs()) != 1 {
		t.Fatalf("resource logs %v", rl)
	}
	sl := rl[0].GetScopeLogs()[0]
	if sl.GetScope().GetName() != "conformance" || sl.GetScope().GetVersion() != "1.0.0" || sl.GetSchemaUrl() == "" {
		t.Errorf("scope %v schema %q", sl.GetScope(), sl.GetSchemaUrl())
	}
	recs := sl.GetLogRecords()
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	got := recs[0]
	sc := span.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	if got.GetTimeUnixNano() != uint64(ts.UnixNano()) || got.GetObservedTimeUnixNano() != uint64(ts.Add(time.Millisecond).UnixNano()) ||
		got.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_ERROR || got.GetSeverityText() != "ERROR" ||
		got.GetEventName() != "app.failure" || string(got.GetTraceId()) != string(tid[:]) || string(got.GetSpanId()) != string(sid[:]) ||
		got.GetFlags() != uint32(sc.TraceFlags()) {
		t.Errorf("record %v", got)
	}
	body := got.GetBody().GetKvlistValue().GetValues()
	if len(body) != 3 || body[1].GetKey() != "l" || body[2].GetValue().GetStringValue() != "bad \uFFFD" ||
		string(body[0].GetValue().GetBytesValue()) != "\x07" {
		t.Errorf("body %v", body)
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range got.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue()
	}
	if len(attrs) != 5 || attrs["exception.message"].GetStringValue() != "boom" || attrs["f"].GetDoubleValue() != 0.5 {
		t.Errorf("attributes %v", attrs)
	}
	res := map[string]string{}
	for _, kv := range rl[0].GetResource().GetAttributes() {
		res[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if res["telemetry.sdk.name"] != "spanbridge" {
		t.Errorf("resource %v", res)
	}
}

// The contrib bridge for log/slog works unchanged over sdk.LoggerProvider:
// a record written inside a span carries that span's trace ID and span ID,
// one written outside any span carries none, and slog's level, message and
// attributes arrive as severity, body and attributes.
func TestOtelslogBridgeOverTheSDK(t *testing.T) {
	records := recordLogs(t)
	p := newLogProvider(t)
	tp := sdk.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	logger := slog.New(otelslog.NewHandler("hello", otelslog.WithLoggerProvider(p)))

	ctx, span := tp.Tracer("hello").Start(context.Background(), "GET /")
	logger.InfoContext(ctx, "handling request", "path", "/", slog.Int("n", 3))
	logger.DebugContext(ctx, "details", "k", "v")
	span.End()
	logger.Warn("outside any span", "err", errors.New("x"))
	p.Flush()

	recs := records()
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	sc := span.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	for _, r := range recs[:2] {
		if string(r.GetTraceId()) != string(tid[:]) || string(r.GetSpanId()) != string(sid[:]) || r.GetFlags()&1 != 1 {
			t.Errorf("record %q: trace %x span %x flags %#x, want the span's %s %s", r.GetBody().GetStringValue(),
				r.GetTraceId(), r.GetSpanId(), r.GetFlags(), tid, sid)
		}
	}
	if r := recs[0]; r.GetBody().GetStringValue() != "handling request" || r.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_INFO ||
		r.GetSeverityText() != "INFO" || len(r.GetAttributes()) != 2 || r.GetAttributes()[1].GetValue().GetIntValue() != 3 {
		t.Errorf("info record %v", r)
	}
	if r := recs[1]; r.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG {
		t.Errorf("debug record %v", r)
	}
	if r := recs[2]; len(r.GetTraceId()) != 0 || len(r.GetSpanId()) != 0 || r.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_WARN {
		t.Errorf("record outside any span %v", r)
	}
}

// The contrib bridge for zap works unchanged too: the context given as a
// field puts the span's IDs on the record.
func TestOtelzapBridgeOverTheSDK(t *testing.T) {
	records := recordLogs(t)
	p := newLogProvider(t)
	tp := sdk.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	logger := zap.New(otelzap.NewCore("hello", otelzap.WithLoggerProvider(p)))

	ctx, span := tp.Tracer("hello").Start(context.Background(), "GET /")
	logger.Info("handling request", zap.Any("ctx", ctx), zap.String("path", "/"))
	span.End()
	p.Flush()

	recs := records()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	tid, sid := span.SpanContext().TraceID(), span.SpanContext().SpanID()
	if r := recs[0]; string(r.GetTraceId()) != string(tid[:]) || string(r.GetSpanId()) != string(sid[:]) ||
		r.GetBody().GetStringValue() != "handling request" || r.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_INFO {
		t.Errorf("record %v, want the span's %s %s", r, tid, sid)
	}
}
