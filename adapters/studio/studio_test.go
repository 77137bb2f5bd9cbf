package studio

import (
	"strings"
	"testing"
	"time"
)

func TestParseAdvance(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"31d": 31 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute,
		"1d12h": 36 * time.Hour, " 2d ": 48 * time.Hour,
		// The units of retention too: weeks, and years of 365 days.
		"5w": 35 * 24 * time.Hour, "1y": 365 * 24 * time.Hour, "1w2d": 9 * 24 * time.Hour,
	} {
		if got, err := parseAdvance(in); err != nil || got != want {
			t.Errorf("parseAdvance(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "31", "d", "-1d", "1mo", "0d", "3661d", "11y", "1d2", "9999999d", "1.5d"} {
		if got, err := parseAdvance(in); err == nil {
			t.Errorf("parseAdvance(%q) = %v, want an error", in, got)
		}
	}
}

// TestFailuresHaveWordsInEveryLanguage: every failure the server answers by
// code has its words in each language of the page (studio.js), so the
// page never shows a failure in a language the author did not pick.
func TestFailuresHaveWordsInEveryLanguage(t *testing.T) {
	js, err := static.ReadFile("static/studio.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(js)
	it := strings.Index(src, "\n    it: {")
	if it < 0 {
		t.Fatal("studio.js has no Italian table")
	}
	for code, words := range failures {
		key := "err_" + code + ": "
		if en := strings.Index(src, key); en < 0 || en > it || !strings.Contains(src[en:], words) {
			t.Errorf("failure %q has no English words in studio.js matching the server's %q", code, words)
		}
		if !strings.Contains(src[it:], key) {
			t.Errorf("failure %q has no Italian words in studio.js", code)
		}
	}
}
