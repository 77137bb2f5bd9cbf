package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/session"
)

// TestSubjectCommandsTakeTheNumberAsPeopleWriteIt: a DPO answering a request
// types the customer's number as it is usually written, with a + and
// spaces or dashes, or the channel with capitals. That must reach the same
// customer as whatsapp:15550009876, or an export answers "nothing held" and
// an erasure prints a receipt while the data stays.
func TestSubjectCommandsTakeTheNumberAsPeopleWriteIt(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	for _, user := range []string{"whatsapp:+15550009876", "WhatsApp:+1 555-000-9876", "whatsapp:(1) 555 000 9876"} {
		if ex := e.export(e.dir, user, time.Now()); len(ex.Fields) != 3 {
			t.Errorf("subject export --user %q found %d fields, want the 3 held for %s", user, len(ex.Fields), canaryUser)
		}
	}
	r := e.must("", "audit", "show", "--data", e.dir, "--key-file", e.key, "--subject", "whatsapp:+1 555 000 9876")
	if !strings.Contains(r.stdout, "subject.export") {
		t.Errorf("audit show --subject with a + and spaces lists no export of the customer:\n%s", r.stdout)
	}
	out := e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", "whatsapp:+1 555 000 9876")
	var rc session.ErasureReceipt
	if err := json.Unmarshal([]byte(out.stdout), &rc); err != nil {
		t.Fatalf("subject erase printed no JSON receipt: %v\n%s", err, out.stdout)
	}
	if !rc.KeyDestroyed || rc.Fields != 3 {
		t.Errorf("erasure of whatsapp:+1 555 000 9876 = %+v, want the customer's key destroyed and 3 fields", rc)
	}
	if ex := e.export(e.dir, canaryUser, time.Now()); len(ex.Fields) != 0 {
		t.Errorf("after the erasure %s still holds %d fields", canaryUser, len(ex.Fields))
	}
	// Nobody under that id: exit 0 (data may have expired), but the
	// operator is told, without the id being repeated.
	for _, action := range []string{"export", "erase"} {
		r := e.must("", "subject", action, "--data", e.dir, "--key-file", e.key, "--user", "whatsapp:15550001239")
		if !strings.Contains(r.stderr, "nothing is held under this customer id") || strings.Contains(r.stderr, "15550001239") {
			t.Errorf("subject %s of an unknown id printed on stderr:\n%s\nwant a note that nothing is held, without the id", action, r.stderr)
		}
	}
	// An id that is not a number (a WhatsApp username's business-scoped id,
	// a web session) is taken as written.
	if r := e.parley("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", "whatsapp:US.13491208655302741918"); r.code != 0 {
		t.Errorf("subject export of a business-scoped id: exit %d\n%s", r.code, r.stderr)
	}
	e.scanLogs(canaries)
}

// TestChatRightsAfterTheConversationEnded: a customer whose booking is done
// comes back with DELETE MY DATA and confirms. parley chat printed the
// question and quit, because the stored conversation had already ended, so
// the YES was never read and nothing was erased (exit 0).
func TestChatRightsAfterTheConversationEnded(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	chat := e.chat(canaryUser, "MY DATA", "DELETE MY DATA", "YES")
	if !strings.Contains(chat.stdout, "This is what we hold about you:") || !strings.Contains(chat.stdout, "has been erased") {
		t.Errorf("MY DATA, then DELETE MY DATA and YES on an ended conversation:\n%s\nwant the data shown and the erasure confirmed", chat.stdout)
	}
	if ex := e.export(e.dir, canaryUser, time.Now()); len(ex.Fields) != 0 || ex.Conversation != nil {
		t.Errorf("after DELETE MY DATA and YES the export holds %d fields, %+v", len(ex.Fields), ex.Conversation)
	}
	e.scanLogs(canaries)
}

// TestChatNowNeverDatesTheErasureLedger: parley chat --now in the past
// with DELETE MY DATA dated the erasure in the ledger by --now. The next
// purge then forgot it as older than the ledger's retention, and restoring
// a backup taken just before the erasure, with the current ledger (the
// documented way), brought the erased customer back.
func TestChatNowNeverDatesTheErasureLedger(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	bak := filepath.Join(t.TempDir(), "before.bak")
	e.must("", "backup", "--data", e.dir, "--key-file", e.key, "--out", bak)
	chat := e.must("DELETE MY DATA\nYES\n", "chat", "--flow", bookingFlow, "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--now", "2001-01-01T00:00:00Z")
	if !strings.Contains(chat.stdout, "has been erased") {
		t.Fatalf("the erasure was not confirmed:\n%s", chat.stdout)
	}
	ledger, err := os.ReadFile(filepath.Join(e.dir, "erasures.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(ledger), `"at":"2001-`) {
		t.Errorf("the erasure ledger holds an entry dated by --now:\n%s", ledger)
	}
	if out := e.must("", "purge", "--data", e.dir, "--key-file", e.key).stdout; !strings.Contains(out, "old erasures forgotten: 0") {
		t.Errorf("purge right after the erasure forgot erasures:\n%s", out)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	copyLedger(t, e.dir, restored)
	e.must("", "restore", "--data", restored, "--key-file", e.key, "--in", bak)
	if ex := e.export(restored, canaryUser, time.Now()); len(ex.Fields) != 0 || ex.Conversation != nil {
		t.Errorf("restoring the backup taken before the erasure brought back %d fields and %+v", len(ex.Fields), ex.Conversation)
	}
	e.scanLogs(canaries)
}

// TestChatNowNeverDatesHistory: one parley chat --now 2030 on a real data
// directory dated its MY DATA audit entry 2030, and, as no entry may be
// dated before the one it follows, every real entry after it too, for
// years. --now moves the simulated conversation, not the audit log.
func TestChatNowNeverDatesHistory(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	e.must("MY DATA\n", "chat", "--flow", bookingFlow, "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--now", "2030-01-01T00:00:00Z")
	e.export(e.dir, canaryUser, time.Now())
	entries := e.auditEntries(e.dir)
	if len(entries) < 2 {
		t.Fatalf("audit log holds %d entries, want the chat's MY DATA and the export", len(entries))
	}
	for _, a := range entries {
		if a.At.Year() >= 2030 {
			t.Errorf("audit entry %d (%s) is dated %s: --now wrote history", a.Seq, a.Action, a.At)
		}
	}
}
