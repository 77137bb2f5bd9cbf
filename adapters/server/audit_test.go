package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

// TestAccessRightsAreAuditedOnEveryChannel: MY DATA on WhatsApp (a signed
// webhook) and PRIVACY in the web chat are audit entries with the
// pseudonym, the right and the flow, and no content.
func TestAccessRightsAreAuditedOnEveryChannel(t *testing.T) {
	e := newEnv(t, envOptions{webChat: true})
	user := "15550002222"
	if st := e.post(t, textWebhook(user, "wamid.IN.audit.1", "hi", time.Now())); st != http.StatusOK {
		t.Fatalf("webhook answered %d", st)
	}
	e.graph.waitDelivered(t, user, 2)
	if st := e.post(t, textWebhook(user, "wamid.IN.audit.2", "MY DATA", time.Now())); st != http.StatusOK {
		t.Fatalf("webhook answered %d", st)
	}
	e.graph.waitDelivered(t, user, 3)

	r := e.webChat(t, "", "PRIVACY", nil)
	if r.status != http.StatusOK || r.cookie == "" {
		t.Fatalf("web chat answered %d with cookie %q", r.status, r.cookie)
	}
	visitor, _, _ := strings.Cut(r.cookie, ".") // the id the server chose

	for _, c := range []struct {
		subject vault.SubjectID
		action  string
	}{
		{e.vault.SubjectID("whatsapp", user), "access.my_data"},
		{e.vault.SubjectID("web", visitor), "access.privacy"},
	} {
		got, err := e.vault.AuditEntries(vault.AuditFilter{Subject: c.subject})
		if err != nil || len(got) != 1 || got[0].Action != c.action || got[0].Detail["flow"] != "booking" || len(got[0].Detail) != 2 {
			t.Errorf("audit entries of the %s subject = %+v (%v), want one %s with the flow only", c.action, got, err, c.action)
		}
	}
	if n, err := e.vault.AuditVerify(); n != 2 || err != nil {
		t.Errorf("AuditVerify = %d, %v; want 2, nil", n, err)
	}
}
