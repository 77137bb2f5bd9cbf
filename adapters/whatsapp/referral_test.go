package whatsapp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// TestDecodeReferralKeepsOnlyTheAdID: a first message from a
// click-to-WhatsApp ad decodes to "ad:<source_id>"; nothing else of the
// referral (URL, headline, body, welcome text, click id) is in what Decode
// returns. An id outside the campaign charset is dropped, not kept.
func TestDecodeReferralKeepsOnlyTheAdID(t *testing.T) {
	r := whatsapptest.Referral{SourceURL: "https://fb.me/url-canary", SourceID: "120208999", SourceType: "ad",
		Headline: "headline-canary", Body: "body-canary", CtwaClid: "clid-canary", Welcome: "welcome-canary"}
	b, err := whatsapp.Decode(whatsapptest.ReferralWebhook("100000000000001", "15550009001", "wamid.R1", "hello", r, time.Now()))
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Decode = %+v, %v", b, err)
	}
	m := b.Messages[0]
	if m.Campaign != "ad:120208999" {
		t.Errorf("Campaign = %q, want ad:120208999", m.Campaign)
	}
	all := fmt.Sprintf("%+v", m)
	for _, s := range []string{"url-canary", "headline-canary", "body-canary", "clid-canary", "welcome-canary"} {
		if strings.Contains(all, s) {
			t.Errorf("the decoded message holds %q", s)
		}
	}
	r.SourceID = "12 34@x"
	b, _ = whatsapp.Decode(whatsapptest.ReferralWebhook("100000000000001", "15550009001", "wamid.R2", "hello", r, time.Now()))
	if len(b.Messages) != 1 || b.Messages[0].Campaign != "" {
		t.Errorf("an ad id with spaces and @ decoded to campaign %q, want none", b.Messages[0].Campaign)
	}
}
