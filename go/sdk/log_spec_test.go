package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// Conformance tests for the rules of the OpenTelemetry Logs API and SDK
// specifications (and the log data model); each names its section.

// emit emits one record built by set on a logger of p.
func emit(ctx context.Context, p *LogProvider, set func(r *log.Record)) {
	var r log.Record
	set(&r)
	p.Logger("test").Emit(ctx, r)
}

// Logs API, Emit a LogRecord: the record's fields (timestamp, observed
// timestamp, severity number and text, body, attributes, event name) are
// exported as given.
func TestSpecLogsEmitKeepsEveryField(t *testing.T) {
	p, r := newTestLogProvider(t)
	ts, obs := time.Unix(1700000000, 5), time.Unix(1700000001, 7)
	emit(context.Background(), p, func(rec *log.Record) {
		rec.SetTimestamp(ts)
		rec.SetObservedTimestamp(obs)
		rec.SetSeverity(log.SeverityWarn2)
		rec.SetSeverityText("WARNING")
		rec.SetBody(attribute.StringValue("disk almost full"))
		rec.SetEventName("disk.low")
		rec.AddAttributes(attribute.Int("free.mb", 12), attribute.String("mount", "/"))
	})
	got := onlyRecord(t, p, r)
	if got.time != uint64(ts.UnixNano()) || got.observed != uint64(obs.UnixNano()) || got.severity != 14 ||
		got.severityText != "WARNING" || got.body != "disk almost full" || got.eventName != "disk.low" ||
		fmt.Sprint(got.attrs) != "[{free.mb 12} {mount /}]" || got.dropped != 0 {
		t.Errorf("record %v", got)
	}
}

// Logs SDK, LogRecord / data model, ObservedTimestamp: a record emitted
// without one gets the current time; one without a Timestamp leaves the
// field unset (0, unknown).
func TestSpecLogsObservedTimestampSetWhenZero(t *testing.T) {
	p, r := newTestLogProvider(t)
	before := time.Now().UnixNano()
	emit(context.Background(), p, func(rec *log.Record) { rec.SetBody(attribute.StringValue("x")) })
	after := time.Now().UnixNano()
	got := onlyRecord(t, p, r)
	if got.time != 0 || got.observed < uint64(before) || got.observed > uint64(after) {
		t.Errorf("time %d observed %d, want 0 and within [%d, %d]", got.time, got.observed, before, after)
	}
}

// Logs SDK, Emit: the trace context (trace ID, span ID, trace flags) comes
// from the span in the resolved Context; without one the fields are unset.
func TestSpecLogsTraceContextFromContext(t *testing.T) {
	p, r := newTestLogProvider(t)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled | trace.FlagsRandom,
	})
	emit(trace.ContextWithSpanContext(context.Background(), sc), p, func(rec *log.Record) {})
	emit(context.Background(), p, func(rec *log.Record) {})
	emit(nil, p, func(rec *log.Record) {}) //nolint:staticcheck // a nil context must not crash
	p.Flush()
	recs := r.records(t)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	if string(recs[0].traceID) != string(tid[:]) || string(recs[0].spanID) != string(sid[:]) || recs[0].flags != 0x03 {
		t.Errorf("in a span: %v", recs[0])
	}
	for _, rec := range recs[1:] {
		if rec.traceID != nil || rec.spanID != nil || rec.flags != 0 {
			t.Errorf("outside any span: %v", rec)
		}
	}
}

// Logs SDK, LogRecord limits: attributes past
// OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT are dropped and counted in the
// record's dropped_attributes_count; values are cut to
// OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT characters (the body is not).
func TestSpecLogsAttributeLimitsFromEnv(t *testing.T) {
	t.Setenv("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "2")
	t.Setenv("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3")
	p, r := newTestLogProvider(t)
	emit(context.Background(), p, func(rec *log.Record) {
		rec.SetBody(attribute.StringValue("a long body"))
		rec.AddAttributes(attribute.String("a", "éééé"), attribute.StringSlice("b", []string{"12345", "x"}),
			attribute.Int("c", 1), attribute.Int("d", 2))
	})
	got := onlyRecord(t, p, r)
	if fmt.Sprint(got.attrs) != "[{a ééé} {b [123 x]}]" || got.dropped != 2 || got.body != "a long body" {
		t.Errorf("attrs %v dropped %d body %v", got.attrs, got.dropped, got.body)
	}
}

// Logs SDK, LogRecord limits: the general OTEL_ATTRIBUTE_* limits apply
// when the OTEL_LOGRECORD_* ones are not set.
func TestSpecLogsGeneralAttributeLimitsApply(t *testing.T) {
	t.Setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "1")
	t.Setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "2")
	if got := NewLogRecordLimits(); got.AttributeCountLimit != 1 || got.AttributeValueLengthLimit != 2 {
		t.Errorf("limits %+v", got)
	}
}

// Logs data model, attributes and AnyValue maps: keys are unique, the last
// value set wins, in the attributes and in map values of the body.
func TestSpecLogsDuplicateKeysLastWins(t *testing.T) {
	p, r := newTestLogProvider(t)
	emit(context.Background(), p, func(rec *log.Record) {
		rec.SetBody(attribute.MapValue(attribute.String("k", "first"), attribute.String("k", "last")))
		rec.AddAttributes(attribute.String("a", "first"), attribute.Int("n", 1), attribute.String("a", "last"))
	})
	got := onlyRecord(t, p, r)
	if fmt.Sprint(got.attrs) != "[{a last} {n 1}]" || got.dropped != 0 || fmt.Sprint(got.body) != "[{k last}]" {
		t.Errorf("attrs %v dropped %d body %v", got.attrs, got.dropped, got.body)
	}
}

// Logs data model, Body: any value kind, including maps, slices and
// bytes, nested.
func TestSpecLogsBodyOfAnyKind(t *testing.T) {
	bodies := []attribute.Value{
		attribute.StringValue("s"), attribute.IntValue(-3), attribute.Float64Value(1.5), attribute.BoolValue(true),
		attribute.ByteSliceValue([]byte{0, 1}), attribute.StringSliceValue([]string{"a"}),
		attribute.SliceValue(attribute.IntValue(1), attribute.MapValue(attribute.Bool("b", false))),
		attribute.MapValue(attribute.String("k", "v"), attribute.Slice("l", attribute.ByteSliceValue([]byte{9}))),
	}
	p, r := newTestLogProvider(t)
	for _, b := range bodies {
		emit(context.Background(), p, func(rec *log.Record) { rec.SetBody(b) })
	}
	emit(context.Background(), p, func(rec *log.Record) {})
	p.Flush()
	recs := r.records(t)
	if len(recs) != len(bodies)+1 {
		t.Fatalf("%d records, want %d", len(recs), len(bodies)+1)
	}
	for i, b := range bodies {
		if got, w := fmt.Sprint(recs[i].body), fmt.Sprint(want(b)); got != w || !recs[i].hasBody {
			t.Errorf("body %d: %s, want %s", i, got, w)
		}
	}
	if recs[len(bodies)].hasBody {
		t.Errorf("a record without a body carries one: %v", recs[len(bodies)].body)
	}
}

// Logs SDK / semantic conventions, exceptions: an error set on the record
// adds exception.type and exception.message, unless the record has them.
func TestSpecLogsErrorBecomesExceptionAttributes(t *testing.T) {
	p, r := newTestLogProvider(t)
	emit(context.Background(), p, func(rec *log.Record) { rec.SetErr(errors.New("boom")) })
	emit(context.Background(), p, func(rec *log.Record) {
		rec.SetErr(errors.New("boom"))
		rec.AddAttributes(attribute.String("exception.message", "redacted"))
	})
	p.Flush()
	recs := r.records(t)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	if m := attrMap(recs[0].attrs); m["exception.type"] != "*errors.errorString" || m["exception.message"] != "boom" {
		t.Errorf("exception attributes %v", m)
	}
	if m := attrMap(recs[1].attrs); m["exception.message"] != "redacted" || m["exception.type"] != "*errors.errorString" || len(m) != 2 {
		t.Errorf("the record's own exception.message did not win: %v", m)
	}
}

// Logs SDK, Shutdown: afterwards Enabled reports false and emitted records
// are dropped; a second Shutdown does nothing.
func TestSpecLogsShutdownStopsRecording(t *testing.T) {
	p, r := newTestLogProvider(t)
	l := p.Logger("test")
	if !l.Enabled(context.Background(), log.EnabledParameters{}) {
		t.Error("attached logger not enabled")
	}
	emit(context.Background(), p, func(rec *log.Record) {})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.count() != 1 {
		t.Errorf("%d batches after Shutdown, want the one record flushed", r.count())
	}
	if l.Enabled(context.Background(), log.EnabledParameters{}) {
		t.Error("logger enabled after Shutdown")
	}
	emit(context.Background(), p, func(rec *log.Record) {})
	p.Flush()
	if r.count() != 1 {
		t.Error("a record emitted after Shutdown was handed off")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// Logs SDK, ForceFlush: every record emitted so far is handed off; a
// context that has ended fails it.
func TestSpecLogsForceFlush(t *testing.T) {
	p, r := newTestLogProvider(t, WithBatchTimeout(time.Hour))
	emit(context.Background(), p, func(rec *log.Record) {})
	if r.count() != 0 {
		t.Fatal("handed off before the flush")
	}
	if err := p.ForceFlush(context.Background()); err != nil || r.count() != 1 {
		t.Errorf("ForceFlush: %v, %d batches", err, r.count())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.ForceFlush(ctx); err == nil {
		t.Error("ForceFlush with an ended context succeeded")
	}
}

// Logs SDK, Batching processor: OTEL_BLRP_SCHEDULE_DELAY,
// OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, OTEL_BLRP_MAX_QUEUE_SIZE and
// OTEL_BLRP_EXPORT_TIMEOUT (milliseconds) configure the log batches, with
// the specification's defaults (1000, 512, 2048, 30000).
func TestSpecLogsBatchSettingsFromEnv(t *testing.T) {
	cfg := newLogConfig(nil)
	if cfg.batchTimeout != time.Second || cfg.maxBatchItems != 512 || cfg.maxQueueSize != 2048 || cfg.exportTimeout != 30*time.Second {
		t.Errorf("defaults %v %d %d %v", cfg.batchTimeout, cfg.maxBatchItems, cfg.maxQueueSize, cfg.exportTimeout)
	}
	t.Setenv("OTEL_BLRP_SCHEDULE_DELAY", "250")
	t.Setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "7")
	t.Setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "100")
	t.Setenv("OTEL_BLRP_EXPORT_TIMEOUT", "1500")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "9") // the span settings do not apply
	cfg = newLogConfig(nil)
	if cfg.batchTimeout != 250*time.Millisecond || cfg.maxBatchItems != 7 || cfg.maxQueueSize != 100 || cfg.exportTimeout != 1500*time.Millisecond {
		t.Errorf("from env %v %d %d %v", cfg.batchTimeout, cfg.maxBatchItems, cfg.maxQueueSize, cfg.exportTimeout)
	}
	cfg = newLogConfig([]Option{WithBatchTimeout(time.Minute), WithMaxExportBatchSize(3)})
	if cfg.batchTimeout != time.Minute || cfg.maxBatchItems != 3 {
		t.Errorf("options do not override the environment: %v %d", cfg.batchTimeout, cfg.maxBatchItems)
	}
}

// Logs SDK, Batching processor: maxExportBatchSize must be less than or
// equal to maxQueueSize.
func TestSpecLogsBatchSizeAtMostQueueSize(t *testing.T) {
	cfg := newLogConfig([]Option{WithMaxQueueSize(10), WithMaxExportBatchSize(20)})
	if cfg.maxBatchItems != 10 || !reported("over the max queue size") {
		t.Errorf("batch size %d, want the queue size 10, reported", cfg.maxBatchItems)
	}
}

// Logs SDK, Batching processor: a full batch (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE
// records) is handed off at once, and the rest after the schedule delay.
func TestSpecLogsBatchesBySizeAndDelay(t *testing.T) {
	p, r := newTestLogProvider(t, WithMaxExportBatchSize(3), WithBatchTimeout(50*time.Millisecond))
	for range 4 {
		emit(context.Background(), p, func(rec *log.Record) {})
	}
	if r.count() != 1 {
		t.Fatalf("%d batches right after 4 records, want the full one", r.count())
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r.count() != 2 || len(r.records(t)) != 4 {
		t.Errorf("%d batches, %d records after the delay; want 2 and 4", r.count(), len(r.records(t)))
	}
}

// Logs SDK, Batching processor, maxQueueSize: while no probe is attached
// the held batches keep at most that many records, the newest.
func TestSpecLogsHeldRecordsBoundedByQueueSize(t *testing.T) {
	p, r := newTestLogProvider(t, WithMaxQueueSize(4), WithMaxExportBatchSize(2))
	for i := range 6 {
		b := p.getBuf(0)
		*b = append(*b, byte(i))
		p.hold(sealedBatch{data: *b, buf: b, n: 2})
	}
	p.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) != 2 || r.batches[0][0] != 4 || r.batches[1][0] != 5 {
		t.Errorf("handed off %v once attached, want the newest 2 batches of 2 records", r.batches)
	}
}

// Logs SDK, LoggerProvider: loggers of one scope are one logger; the
// scope's name, version, schema URL and attributes are exported, and the
// resource is the one of the tracer provider.
func TestSpecLogsScopeAndResource(t *testing.T) {
	p, r := newTestLogProvider(t)
	opts := []log.LoggerOption{log.WithInstrumentationVersion("1.2.3"), log.WithSchemaURL("https://example.com/s"),
		log.WithInstrumentationAttributes(attribute.String("k", "v"))}
	if p.Logger("lib", opts...) != p.Logger("lib", opts...) {
		t.Error("the same scope gave two loggers")
	}
	p.Logger("lib", opts...).Emit(context.Background(), log.Record{})
	p.Flush()
	r.mu.Lock()
	rls := decodeLogsBatch(t, r.batches[0])
	r.mu.Unlock()
	sl := rls[0].scopes[0]
	if sl.name != "lib" || sl.version != "1.2.3" || sl.schemaURL != "https://example.com/s" || fmt.Sprint(sl.attrs) != "[{k v}]" {
		t.Errorf("scope %+v", sl)
	}
	res := attrMap(rls[0].resource)
	if res["telemetry.sdk.name"] != "spanbridge" || res["process.pid"] == nil || rls[0].schemaURL == "" {
		t.Errorf("resource %v schema %q", res, rls[0].schemaURL)
	}
	tp, tr := newTestProvider(t)
	_, s := tp.Tracer("x").Start(context.Background(), "op")
	s.End()
	tp.Flush()
	if got := decodeBatch(t, tr.batches[0]).resourceSpans[0].resource; fmt.Sprint(got) != fmt.Sprint(rls[0].resource) {
		t.Errorf("log resource %v, span resource %v", rls[0].resource, got)
	}
}

// A record larger than the record bound has its values cut to fit, and the
// cut is reported.
func TestLogRecordOverTheBoundIsCut(t *testing.T) {
	p, r := newTestLogProvider(t)
	emit(context.Background(), p, func(rec *log.Record) {
		rec.SetBody(attribute.StringValue(strings.Repeat("b", 1<<20)))
		rec.AddAttributes(attribute.String("a", strings.Repeat("a", 1<<19)), attribute.Int("n", 1))
	})
	got := onlyRecord(t, p, r)
	if got.size > p.maxItemBytes || len(got.body.(string)) < 64<<10 || attrMap(got.attrs)["n"] != int64(1) {
		t.Errorf("record of %d bytes (bound %d), body %d bytes", got.size, p.maxItemBytes, len(got.body.(string)))
	}
	if !reported("log record is over the") {
		t.Error("the cut was not reported")
	}
}
