package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOutsideWindowSendsTheFlowsTemplate: when the Graph API refuses a reply
// because the 24-hour window has closed (131047), the flow's outside_window
// template goes instead, once for the turn, and the turn's other free-form
// replies are not sent.
func TestOutsideWindowSendsTheFlowsTemplate(t *testing.T) {
	e := newEnv(t, envOptions{
		attempts:  2,
		flowExtra: "whatsapp:\n  outside_window: { template: please_write_again, language: en_US }\n",
		fail: func(_ int, body map[string]any) (int, string) {
			if body["type"] == "template" {
				return 0, ""
			}
			return http.StatusBadRequest, `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047}}`
		},
	})
	// "hi" gets two replies (greeting and consent question): the first is
	// refused, the template replaces it, the second is dropped.
	if code := e.post(t, textWebhook("15550009999", "wamid.IN1", "hi", time.Now())); code != http.StatusOK {
		t.Fatalf("webhook answered %d, want 200", code)
	}
	e.graph.waitFor(t, "the refused reply and the template", func() bool { return len(e.graph.all()) >= 2 })
	e.shutdown(t) // flushes the outbox: a third send would show now

	var kinds []string
	for _, c := range e.graph.all() {
		k, _ := c.Body["type"].(string)
		if tpl, ok := c.Body["template"].(map[string]any); ok {
			lang, _ := tpl["language"].(map[string]any)
			k += ":" + tpl["name"].(string) + ":" + lang["code"].(string)
		}
		kinds = append(kinds, k)
	}
	if got, want := strings.Join(kinds, " "), "text template:please_write_again:en_US"; got != want {
		t.Errorf("Graph API received %q, want %q (the second free-form reply must not be sent)", got, want)
	}
}
