package server_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestWhatsAppPicksTheCustomersLanguage drives flows/support.yaml (en, it)
// through signed webhooks: an English "Hello" from a +44 number is
// answered in English, "ciao" in Italian, and a first message in no known
// language gets one question with a button per language.
func TestWhatsAppPicksTheCustomersLanguage(t *testing.T) {
	src, err := os.ReadFile("../../flows/support.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{files: map[string]string{"support.yaml": string(src)}, waFlow: "order-support"})
	for i, tc := range []struct {
		phone, text, want string
		n                 int
	}{
		{"447700900123", "Hello", "Hello! I'm Bottega Verde's order assistant.", 3},
		{"393331234567", "ciao", "Ciao! Sono l'assistente ordini di Bottega Verde.", 3},
		{"491511234567", "BV12345", "Which language do you prefer? / In che lingua preferisci?", 1},
	} {
		if st := e.post(t, textWebhook(tc.phone, "wamid.lang."+tc.phone, tc.text, time.Now())); st != 200 {
			t.Fatalf("%d: status %d", i, st)
		}
		e.graph.waitDelivered(t, tc.phone, tc.n)
		got := e.graph.deliveredTo(tc.phone)
		if got[0].text() != tc.want {
			t.Errorf("%q from +%s: first reply %q, want %q", tc.text, tc.phone, got[0].text(), tc.want)
		}
	}
	e.shutdown(t)
	ask := e.graph.deliveredTo("491511234567")
	if len(ask) != 1 {
		t.Fatalf("language question: %d messages, want 1", len(ask))
	}
	b, _ := json.Marshal(ask[0].Body["interactive"])
	for _, want := range []string{`"lang_en"`, `"lang_it"`, `"English"`, `"Italiano"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("language question %s lacks the button %s", b, want)
		}
	}
}
