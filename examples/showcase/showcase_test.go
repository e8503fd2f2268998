package main

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/spanbridge/spanbridge/go/sdk"
	"github.com/spanbridge/spanbridge/go/sdk/sdktest"
)

// The record matches, span by span, what the SDK hands to the probe: the
// comparison an end-to-end test makes against an OTLP receiver.
func TestRecordMatchesBatches(t *testing.T) {
	recorded := sdktest.Record(t)
	r := newRecorder(time.Now())
	makeSpans(r)
	sdk.Flush()
	rec := roundTrip(t, r.record())

	got := map[string]*spanRecord{}
	resource := map[string]string{}
	for _, b := range recorded() {
		var td tracepb.TracesData
		if err := proto.Unmarshal(b, &td); err != nil {
			t.Fatalf("unmarshal batch: %v", err)
		}
		for _, rs := range td.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				resource[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					got[hex.EncodeToString(s.GetSpanId())] = fromProto(t, ss, s)
				}
			}
		}
	}
	for k, v := range rec.Resource {
		if resource[k] != v {
			t.Errorf("resource %s = %q, want %q", k, resource[k], v)
		}
	}
	if len(rec.Spans) != 9 || len(rec.MustNotArrive) != 2 {
		t.Fatalf("record has %d spans and %d that must not arrive, want 9 and 2", len(rec.Spans), len(rec.MustNotArrive))
	}
	for _, m := range rec.MustNotArrive {
		if got[m.SpanID] != nil {
			t.Errorf("span %q arrived", m.Name)
		}
	}
	if len(got) != len(rec.Spans) {
		t.Errorf("%d spans arrived, want %d", len(got), len(rec.Spans))
	}
	for _, want := range rec.Spans {
		g := got[want.SpanID]
		if g == nil {
			t.Errorf("span %q did not arrive", want.Name)
			continue
		}
		// Move the attributes whose values the record cannot know.
		for i, e := range want.Events {
			if i < len(g.Events) {
				g.Events[i].PresentKeys = present(t, &g.Events[i], e.PresentKeys)
			}
		}
		if gj, wj := mustJSON(t, g), mustJSON(t, want); gj != wj {
			t.Errorf("span %q:\n got %s\nwant %s", want.Name, gj, wj)
		}
	}
}

// present removes keys from e's attributes, checking each has a non-empty
// string value, and returns them.
func present(t *testing.T, e *eventRecord, keys []string) []string {
	out := []string{}
	for _, k := range keys {
		for i, kv := range e.Attributes {
			if kv.Key == k {
				if s, _ := kv.Value["stringValue"].(string); s == "" {
					t.Errorf("event %q: %s is empty", e.Name, k)
				}
				e.Attributes = append(e.Attributes[:i], e.Attributes[i+1:]...)
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func fromProto(t *testing.T, ss *tracepb.ScopeSpans, s *tracepb.Span) *spanRecord {
	sc := ss.GetScope()
	r := &spanRecord{
		Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentSpanID: hex.EncodeToString(s.GetParentSpanId()), TraceState: s.GetTraceState(), Flags: s.GetFlags(),
		Kind: int(s.GetKind()),
		Scope: scopeRecord{Name: sc.GetName(), Version: sc.GetVersion(), SchemaURL: ss.GetSchemaUrl(),
			Attributes: kvsFromProto(t, sc.GetAttributes())},
		StartTimeUnixNano:      strconv.FormatUint(s.GetStartTimeUnixNano(), 10),
		EndTimeUnixNano:        strconv.FormatUint(s.GetEndTimeUnixNano(), 10),
		Attributes:             kvsFromProto(t, s.GetAttributes()),
		DroppedAttributesCount: int(s.GetDroppedAttributesCount()),
		Events:                 []eventRecord{},
		DroppedEventsCount:     int(s.GetDroppedEventsCount()),
		Links:                  []linkRecord{},
		DroppedLinksCount:      int(s.GetDroppedLinksCount()),
		Status:                 statusRecord{Code: int(s.GetStatus().GetCode()), Message: s.GetStatus().GetMessage()},
	}
	for _, e := range s.GetEvents() {
		r.Events = append(r.Events, eventRecord{Name: e.GetName(), TimeUnixNano: strconv.FormatUint(e.GetTimeUnixNano(), 10),
			Attributes: kvsFromProto(t, e.GetAttributes()), DroppedAttributesCount: int(e.GetDroppedAttributesCount())})
	}
	for _, l := range s.GetLinks() {
		r.Links = append(r.Links, linkRecord{TraceID: hex.EncodeToString(l.GetTraceId()), SpanID: hex.EncodeToString(l.GetSpanId()),
			TraceState: l.GetTraceState(), Flags: l.GetFlags(), Attributes: kvsFromProto(t, l.GetAttributes()),
			DroppedAttributesCount: int(l.GetDroppedAttributesCount())})
	}
	return r
}

func kvsFromProto(t *testing.T, kvs []*commonpb.KeyValue) []keyValue {
	out := []keyValue{}
	for _, kv := range kvs {
		b, err := protojson.Marshal(kv.GetValue())
		if err != nil {
			t.Fatal(err)
		}
		v := map[string]any{}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, keyValue{Key: kv.GetKey(), Value: v})
	}
	return out
}

// roundTrip returns rec as a reader of the JSON file sees it.
func roundTrip(t *testing.T, rec record) record {
	var out record
	if err := json.Unmarshal([]byte(mustJSON(t, rec)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// mustJSON returns v as JSON with object keys sorted.
func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var norm any
	if err := json.Unmarshal(b, &norm); err != nil {
		t.Fatal(err)
	}
	if b, err = json.Marshal(norm); err != nil {
		t.Fatal(err)
	}
	return string(b)
}
