package main

import (
	"strings"
	"testing"
	"time"
)

// TestCLIHandoffTranscriptIsExportedAndErased: through the real commands on
// an on-disk vault, a customer who writes HUMAN in the booking flow is
// handed off; what they write next is acknowledged once and kept. `parley
// subject export` shows it under transcript (the access right); after
// `parley subject erase` and `parley purge` the export holds nothing and no
// file, backup or log holds the text in any encoding.
func TestCLIHandoffTranscriptIsExportedAndErased(t *testing.T) {
	const said = "my invoice 88213 is wrong, CNRY-CLI-HANDOFF"
	e := newEnv(t)
	chat := e.chat(canaryUser, "hi", "HUMAN", said, "anyone?")
	if !strings.Contains(chat.stdout, "passing you to a person") || strings.Count(chat.stdout, "your message is with our team") != 1 {
		t.Fatalf("chat transcript: want the hand-off and exactly one acknowledgement:\n%s", chat.stdout)
	}
	ex := e.export(e.dir, canaryUser, time.Now())
	if len(ex.Transcript) != 2 || ex.Transcript[0].Text != said || ex.Transcript[0].From != "customer" || ex.Transcript[1].Text != "anyone?" {
		t.Fatalf("export transcript %+v, want both messages of the customer", ex.Transcript)
	}
	if ex.Conversation == nil || ex.Conversation.Status != "handed_off" {
		t.Errorf("export conversation %+v, want handed off", ex.Conversation)
	}
	e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	e.must("", "purge", "--data", e.dir, "--key-file", e.key)
	if ex := e.export(e.dir, canaryUser, time.Now()); len(ex.Transcript) != 0 || ex.Conversation != nil {
		t.Errorf("after the erasure the export still holds %+v / %+v", ex.Transcript, ex.Conversation)
	}
	scanDir(t, e.dir, []string{said})
	e.scanLogs([]string{said})
}
