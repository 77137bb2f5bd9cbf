package studio

import (
	"testing"
	"time"
)

func TestParseAdvance(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"31d": 31 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute,
		"1d12h": 36 * time.Hour, " 2d ": 48 * time.Hour,
	} {
		if got, err := parseAdvance(in); err != nil || got != want {
			t.Errorf("parseAdvance(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "31", "d", "-1d", "1w", "0d", "3661d", "1d2", "9999999d", "1.5d"} {
		if got, err := parseAdvance(in); err == nil {
			t.Errorf("parseAdvance(%q) = %v, want an error", in, got)
		}
	}
}
