//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeWarnsOfTheDevelopmentKeyInItsLogFormat starts `parley serve`
// twice on the same data directory without a configured key: both starts
// log the development-key warning as a JSON WARN record (the chosen
// --log-format), the second one too although the key already exists.
func TestServeWarnsOfTheDevelopmentKeyInItsLogFormat(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	graph := httptest.NewServer(http.NotFoundHandler())
	defer graph.Close()
	flows, err := filepath.Abs("../../flows")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	for i, want := range []string{"was created", "is in use"} {
		p := startServe(t, flows, data, graph.URL, "PARLEY_MASTER_KEY=")
		p.cmd.Process.Kill()
		<-p.exited
		var found bool
		for _, line := range strings.Split(p.output(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			msg, _ := rec["msg"].(string)
			if rec["level"] == "WARN" && strings.Contains(msg, "DEVELOPMENT key "+want) && rec["key_file"] == filepath.Join(data, "master.key") {
				found = true
			}
		}
		if !found {
			t.Errorf("start %d: no JSON WARN record saying the DEVELOPMENT key %s:\n%s", i+1, want, p.output())
		}
		if strings.Contains(p.output(), "\nWARNING:") {
			t.Errorf("start %d: the warning was printed as plain text, not in the JSON log format:\n%s", i+1, p.output())
		}
	}
}
