package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/session"
)

// consentCampaigns returns the campaign of each consent record the access
// export shows for a WhatsApp user.
func (e *env) consentCampaigns(t *testing.T, user string) []string {
	t.Helper()
	ex, err := session.ExportSubject(e.vault, e.vault.SubjectID("whatsapp", user), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ex.Consents {
		got = append(got, c.Campaign)
	}
	return got
}

// startAndConsent posts the start webhook, waits for greeting and consent
// question, then answers YES and waits for the first question.
func (e *env) startAndConsent(t *testing.T, user string, start []byte) {
	t.Helper()
	if st := e.post(t, start); st != http.StatusOK {
		t.Fatalf("start webhook answered %d, want 200", st)
	}
	e.graph.waitDelivered(t, user, 2)
	if st := e.post(t, textWebhook(user, "wamid.IN."+user+".yes", "YES", time.Now())); st != http.StatusOK {
		t.Fatalf("YES webhook answered %d, want 200", st)
	}
	e.graph.waitDelivered(t, user, 3)
}

// TestEntryLinkCampaignGoesWithTheConsent: a conversation started by an
// entry link's text ("… (ref: spring-24)") over a signed webhook records
// the campaign in the consent record (export), and the start text is kept
// nowhere: after the sweep the master-key attacker reads the campaign
// (sealed with the consent) but not the text, and the log holds neither
// the text nor the number.
func TestEntryLinkCampaignGoesWithTheConsent(t *testing.T) {
	const (
		user   = "15550008101"
		canary = "entry-canary-Zq8"
		ref    = "spring-24"
	)
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{logger: logger})
	e.startAndConsent(t, user, textWebhook(user, "wamid.IN.entry.1", "Hi "+canary+" (ref: "+ref+")", time.Now()))
	if got := e.consentCampaigns(t, user); len(got) != 1 || got[0] != ref {
		t.Fatalf("consent records carry campaigns %q, want [%q]", got, ref)
	}
	// Control: a plain start records no campaign.
	const other = "15550008102"
	e.startAndConsent(t, other, textWebhook(other, "wamid.IN.entry.2", "hi", time.Now()))
	if got := e.consentCampaigns(t, other); len(got) != 1 || got[0] != "" {
		t.Fatalf("a plain start gave consent campaigns %q, want one without", got)
	}
	e.shutdown(t)
	logHolds(t, logs, canary, user)
	e.sweepLater(t, time.Minute)
	found := e.attackerReads(t, canary, ref)
	if len(found) != 1 || found[0] != ref {
		t.Errorf("after the sweep the master-key attacker reads %q, want only the campaign %q", found, ref)
	}
}

// TestAdReferralGoesWithTheConsent: the first message from a
// click-to-WhatsApp ad records "ad:<source_id>" with the consent; the
// ad's headline, body, URL, welcome text and click id (ctwa_clid) are
// never kept, and the log holds none of them.
func TestAdReferralGoesWithTheConsent(t *testing.T) {
	const user = "15550008103"
	r := whatsapptest.Referral{
		SourceURL: "https://fb.me/ad-url-canary-K1", SourceID: "120208555", SourceType: "ad",
		Headline: "headline-canary-K2", Body: "body-canary-K3", CtwaClid: "clid-canary-K4", Welcome: "welcome-canary-K5",
	}
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{logger: logger})
	e.startAndConsent(t, user, whatsapptest.ReferralWebhook(testPNID, user, "wamid.IN.ad.1", "text-canary-K6", r, time.Now()))
	if got := e.consentCampaigns(t, user); len(got) != 1 || got[0] != "ad:120208555" {
		t.Fatalf("consent records carry campaigns %q, want [ad:120208555]", got)
	}
	e.shutdown(t)
	secrets := []string{r.SourceURL, r.Headline, r.Body, r.CtwaClid, r.Welcome, "text-canary-K6"}
	logHolds(t, logs, append(secrets, user)...)
	e.sweepLater(t, time.Minute)
	if found := e.attackerReads(t, append(secrets, "ad:120208555")...); len(found) != 1 || found[0] != "ad:120208555" {
		t.Errorf("after the sweep the master-key attacker reads %q, want only the ad id", found)
	}
}
