package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// TestSimulatedCallsRecordNoRecipient: parley chat only pretends to call an
// integration, so the export lists no recipient and an erasure would tell
// nobody.
func TestSimulatedCallsRecordNoRecipient(t *testing.T) {
	e := newEnv(t)
	r := e.must("hi\nYES\nMia\nmia@example.org\n2\n", "chat", "--flow", "../../flows/newsletter.yaml", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	if !strings.Contains(r.stderr, "call mailer") {
		t.Fatalf("the conversation did not reach the mailer call:\n%s", r.stderr)
	}
	ex := e.export(e.dir, canaryUser, time.Now())
	if len(ex.Recipients) != 0 {
		t.Errorf("export lists recipients %+v after simulated calls, want none", ex.Recipients)
	}
}

// TestSubjectEraseQueuesRecipientNotices: a customer whose data went to an
// integration that declares on_erase is erased with parley subject erase.
// The export listed the recipient; the receipt lists the notice; the notice
// waits, durably and without personal data, for parley serve to deliver it.
func TestSubjectEraseQueuesRecipientNotices(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	now := time.Now()
	v := e.openVault(e.dir, now)
	s := v.SubjectID("whatsapp", canaryPhone)
	crm := vault.Recipient{Flow: "booking", Integration: "crm", Purpose: "booking", OnErase: "https://crm.example.test/erased", SecretEnv: "CRM_TOKEN"}
	if err := v.Commit(s, vault.Change{Sent: []vault.Recipient{crm}}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	ex := e.export(e.dir, canaryUser, now)
	if len(ex.Recipients) != 1 || ex.Recipients[0].Integration != "crm" || ex.Recipients[0].Flow != "booking" || len(ex.Recipients[0].Notices) != 0 {
		t.Fatalf("export lists recipients %+v, want booking's crm with no notice yet", ex.Recipients)
	}

	out := e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	var rc session.ErasureReceipt
	if err := json.Unmarshal([]byte(out.stdout), &rc); err != nil {
		t.Fatalf("subject erase printed no JSON receipt: %v\n%s", err, out.stdout)
	}
	if len(rc.Notified) != 1 || rc.Notified[0].Integration != "crm" || rc.Notified[0].Event != vault.NoticeErase || len(rc.Notified[0].Receipt) != 32 {
		t.Fatalf("erasure receipt lists %+v, want an erase notice to crm", rc.Notified)
	}

	v = e.openVault(e.dir, now)
	due, err := v.DueNotices(now.Add(time.Minute), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("queued notices %+v, %v; want one", due, err)
	}
	n := due[0]
	if n.Receipt != rc.Notified[0].Receipt || n.URL != crm.OnErase || n.SecretEnv != "CRM_TOKEN" || n.Ref != v.RecipientRef(s, "booking", "crm") {
		t.Errorf("queued notice %+v, want the receipt's, to crm's on_erase, with crm's reference", n)
	}
	if leaks := findLeaks(fmt.Appendf(nil, "%+v", n), append(canaries, string(s))); len(leaks) != 0 {
		t.Errorf("the queued notice holds %v", leaks)
	}
}
