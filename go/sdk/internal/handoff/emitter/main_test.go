package main

import "testing"

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
