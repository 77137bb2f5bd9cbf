//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// TestNumberChangeIsNoErasureRequest: a customer whose data went to an
// integration changes number on WhatsApp. parley serve moves the data to the
// new number; the integration is not told to erase anything (the customer
// asked for no erasure), the export on the new number still lists it as a
// recipient, and when the customer later erases on the new number the
// integration is told under the reference it was sent data under, the old
// number's, as well as the new one.
func TestNumberChangeIsNoErasureRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process; skipped with -short")
	}
	const newPhone = "15550001234"
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	v := e.openVault(e.dir, time.Now())
	old := v.SubjectID("whatsapp", canaryPhone)
	to := v.SubjectID("whatsapp", newPhone)
	crm := vault.Recipient{Flow: "booking", Integration: "crm", Purpose: "booking", OnErase: "https://crm.example.test/erased", SecretEnv: "CRM_TOKEN"}
	if err := v.Commit(old, vault.Change{Sent: []vault.Recipient{crm}}); err != nil {
		t.Fatal(err)
	}
	wantRefs := []string{v.RecipientRef(old, "booking", "crm"), v.RecipientRef(to, "booking", "crm")}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	key, err := os.ReadFile(e.key)
	if err != nil {
		t.Fatal(err)
	}
	g := &killGraph{got: map[string][]string{}, changed: make(chan struct{})}
	gs := httptest.NewServer(g)
	defer gs.Close()
	flows, err := filepath.Abs("../../flows")
	if err != nil {
		t.Fatal(err)
	}
	p := startServe(t, flows, e.dir, gs.URL, "PARLEY_MASTER_KEY="+strings.TrimSpace(string(key)))
	stopped := false
	defer func() {
		if !stopped {
			p.cmd.Process.Kill()
			<-p.exited
		}
	}()
	body := whatsapptest.NumberChangeWebhook(killPNID, canaryPhone, newPhone, "wamid.MOVE.1", time.Now())
	if st := p.postWebhook(t, body); st != http.StatusOK {
		t.Fatalf("the number change webhook was answered %d", st)
	}
	// The server logs the move once it is committed.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(p.output(), `"outcome":"moved"`) {
		if time.Now().After(deadline) {
			t.Fatalf("parley serve did not move the customer within 30s:\n%s", p.output())
		}
		<-tick.C
	}
	p.cmd.Process.Kill()
	<-p.exited
	stopped = true
	e.logs = append(e.logs, logStream{"serve (stderr)", p.output()})

	v = e.openVault(e.dir, time.Now())
	due, err := v.DueNotices(time.Now().Add(time.Hour), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("after the number change %d notices are queued (%v), want none: the customer asked for no erasure", len(due), err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	ex := e.export(e.dir, "whatsapp:"+newPhone, time.Now())
	if len(ex.Recipients) != 1 || ex.Recipients[0].Integration != "crm" || len(ex.Recipients[0].Notices) != 0 {
		t.Fatalf("export on the new number lists recipients %+v, want crm with no notice", ex.Recipients)
	}

	out := e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", "whatsapp:"+newPhone)
	var rc session.ErasureReceipt
	if err := json.Unmarshal([]byte(out.stdout), &rc); err != nil {
		t.Fatalf("subject erase printed no JSON receipt: %v\n%s", err, out.stdout)
	}
	if len(rc.Notified) != 2 {
		t.Fatalf("erasure on the new number notified %+v, want crm under its old and new reference", rc.Notified)
	}
	v = e.openVault(e.dir, time.Now())
	due, err = v.DueNotices(time.Now().Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, n := range due {
		if n.Event != vault.NoticeErase || n.URL != crm.OnErase {
			t.Errorf("queued notice %+v, want an erase notice to crm's on_erase", n)
		}
		refs = append(refs, n.Ref)
	}
	slices.Sort(refs)
	slices.Sort(wantRefs)
	if !slices.Equal(refs, wantRefs) {
		t.Errorf("erase notices name references %v, want the old and the new one %v", refs, wantRefs)
	}
	e.scanLogs(append(slices.Clone(canaries), newPhone))
}
