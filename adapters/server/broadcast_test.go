package server_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAdminBroadcastReachesOnlyConsentingSubscribers: flows/newsletter.yaml
// served on WhatsApp; one customer subscribes (signed webhooks), one
// declines. Through the admin API an operator's dry run counts one and
// sends nothing, a viewer is refused, a request while another run holds
// the broadcast is refused at once, and the broadcast sends the monthly
// issue, with the subscriber's name, to the subscriber only.
func TestAdminBroadcastReachesOnlyConsentingSubscribers(t *testing.T) {
	src, err := os.ReadFile("../../flows/newsletter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{files: map[string]string{"newsletter.yaml": string(src)}, waFlow: "newsletter",
		tokens: "operator:" + operatorToken + ",viewer:" + bcViewerToken})
	const sub, declined = "15550400001", "15550400002"
	n := 0
	say := func(user, text, want string) {
		t.Helper()
		n++
		before := len(e.graph.deliveredTo(user))
		if st := e.post(t, textWebhook(user, fmt.Sprintf("wamid.BCA.%d", n), text, time.Now())); st != http.StatusOK {
			t.Fatalf("webhook answered %d", st)
		}
		e.graph.waitFor(t, "a reply with "+want, func() bool {
			for _, c := range e.graph.deliveredTo(user)[before:] {
				if strings.Contains(c.text(), want) {
					return true
				}
			}
			return false
		})
	}
	say(sub, "hi", "Do you agree?")
	say(sub, "YES", "What should we call you?")
	say(sub, "Ann", "Which email")
	say(declined, "hi", "Do you agree?")
	say(declined, "NO", "nothing was saved")
	templates := func(user string) (out []string) {
		for _, c := range e.graph.deliveredTo(user) {
			if tp, ok := c.Body["template"].(map[string]any); ok {
				out = append(out, fmt.Sprint(tp["name"], tp["components"]))
			}
		}
		return out
	}

	body := `{"flow":"newsletter","template":"monthly_issue","dry_run":true}`
	if st, _ := e.adminCall(t, http.MethodPost, "/broadcasts", bcViewerToken, body); st != http.StatusForbidden {
		t.Errorf("a viewer's broadcast answered %d, want 403", st)
	}
	st, out := e.adminCall(t, http.MethodPost, "/broadcasts", operatorToken, body)
	if st != http.StatusOK || out["audience"] != float64(1) {
		t.Fatalf("dry run answered %d %v, want 200 with audience 1", st, out)
	}
	if s, _ := out["sample"].([]any); len(s) != 1 || !strings.HasPrefix(fmt.Sprint(s[0]), "s:") || strings.Contains(fmt.Sprint(s[0]), sub) {
		t.Errorf("dry run sample %v, want one pseudonymous reference", out["sample"])
	}
	if st, _ := e.adminCall(t, http.MethodPost, "/broadcasts", operatorToken, `{"flow":"newsletter","template":"nope"}`); st != http.StatusBadRequest {
		t.Errorf("an unknown template answered %d, want 400", st)
	}
	if got := templates(sub); len(got) != 0 {
		t.Fatalf("the dry run sent %v", got)
	}
	// While another run holds the broadcast (as parley broadcast would),
	// the request is refused at once and sends nothing.
	other, _, err := e.vault.BroadcastStart("newsletter", "monthly_issue", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, out := e.adminCall(t, http.MethodPost, "/broadcasts", operatorToken, `{"flow":"newsletter","template":"monthly_issue"}`); st != http.StatusConflict {
		t.Fatalf("a broadcast while another run holds it answered %d %v, want 409", st, out)
	}
	if err := e.vault.BroadcastRelease(other, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := templates(sub); len(got) != 0 {
		t.Fatalf("the refused broadcast sent %v", got)
	}
	if st, out := e.adminCall(t, http.MethodPost, "/broadcasts", operatorToken, `{"flow":"newsletter","template":"monthly_issue"}`); st != http.StatusAccepted {
		t.Fatalf("broadcast answered %d %v, want 202", st, out)
	}
	e.graph.waitFor(t, "the monthly issue", func() bool { return len(templates(sub)) == 1 })
	e.shutdown(t) // waits for the broadcast to finish
	if got := templates(sub); len(got) != 1 || !strings.Contains(got[0], "monthly_issue") || !strings.Contains(got[0], "Ann") {
		t.Errorf("the subscriber got %v, want the monthly issue with their name once", got)
	}
	if got := templates(declined); len(got) != 0 {
		t.Errorf("the customer who declined got %v", got)
	}
}

const bcViewerToken = "viewer-token-0123456789ab"
