package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	got, err := parseFaults("500:20s, 429:10s,slow:1m")
	if err != nil || len(got) != 3 || got[0] != (faultPhase{"500", 20 * time.Second}) || got[2] != (faultPhase{"slow", time.Minute}) {
		t.Errorf("parseFaults = %v, %v", got, err)
	}
	for _, bad := range []string{"503:10s", "500", "500:soon"} {
		if _, err := parseFaults(bad); err == nil || !strings.Contains(err.Error(), "MODE:DURATION") {
			t.Errorf("parseFaults(%q) = %v, want an error naming the form", bad, err)
		}
	}
}

// TestGraphFaultsAndLog drives the fake Graph API as the server would: the
// fault phases answer 500 and 429/130429 in turn, then it accepts again, and
// the per-recipient log gives the distinct replies in order of first arrival
// and the total with duplicates.
func TestGraphFaultsAndLog(t *testing.T) {
	g, err := startGraph("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.record()
	send := func(text string) int {
		body := `{"messaging_product":"whatsapp","to":"15550001","type":"text","text":{"body":"` + text + `"}}`
		resp, err := http.Post(g.URL()+"/v25.0/"+phoneNumberID+"/messages", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	phases := []faultPhase{{"500", 20 * time.Second}, {"429", 10 * time.Second}}
	for _, tc := range []struct {
		ago    time.Duration
		status int
	}{{5 * time.Second, 500}, {25 * time.Second, 429}, {35 * time.Second, 200}} {
		g.setFaults(time.Now().Add(-tc.ago), phases)
		if got := send("A"); got != tc.status {
			t.Errorf("%s into the phases: status %d, want %d", tc.ago, got, tc.status)
		}
	}
	send("B")
	send("A") // a duplicate, re-sent after a crash
	distinct, total := g.logOf("15550001")
	if strings.Join(distinct, ",") != "A,B" || total != 3 {
		t.Errorf("logOf = %v, %d; want [A B], 3", distinct, total)
	}
	if g.refused.Load() != 2 {
		t.Errorf("refused = %d, want 2", g.refused.Load())
	}
}
