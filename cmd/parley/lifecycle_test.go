package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

// attackerReads runs the master-key attacker of docs/privacy.md (every
// version of every key, every key it can unwrap) on the stopped vault in
// dir and returns which secrets it can read.
func (e *env) attackerReads(dir string, secrets []string) ([]string, *vault.Recovered) {
	e.t.Helper()
	key, _, err := vault.LoadMasterKey("", e.key, "")
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := vault.AttackerView(dir, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return findLeaks(bytes.Join(r.Plaintext, []byte("\n")), secrets), r
}

// TestPurgeMakesEveryLifetimeUnreadable: a conversation through the CLI and
// the WhatsApp queues (a processed message with the phone number and an
// unsaved text, another with an invalid answer, a sent reply with name and
// email), then `parley purge --now` past each lifetime. The master-key
// attacker reads the data before and nothing of it after.
func TestPurgeMakesEveryLifetimeUnreadable(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.chat(canaryUser, bookingWithCanaries...)

	v := e.openVault(e.dir, start)
	s := v.SubjectID("whatsapp", canaryPhone)
	for i, text := range []string{canaryGreet, canaryBadMail} {
		id := "wamid.canary" + string(rune('1'+i))
		if _, err := v.InboxPut(id, s, []byte(`{"from":"`+canaryPhone+`","text":"`+text+`"}`), start); err != nil {
			t.Fatal(err)
		}
		if _, err := v.CommitTurn(s, vault.Change{InboxDone: id}); err != nil {
			t.Fatal(err)
		}
	}
	seq, err := v.OutboxPut(s, []byte(`{"text":"All set, `+canaryName+`, we wrote to `+canaryEmail+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.OutboxDone(seq); err != nil { // Meta accepted it
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	transient := []string{canaryGreet, canaryBadMail, canaryPhone}
	if leaks, _ := e.attackerReads(e.dir, transient); len(leaks) == 0 {
		t.Fatal("control: the attacker cannot read the processed messages before any lifetime is over")
	}

	purge := func(after time.Duration) string {
		return e.must("", "purge", "--data", e.dir, "--key-file", e.key, "--now", start.Add(after).UTC().Format(time.RFC3339)).stdout
	}
	// An hour later: the messages and the reply are unreadable; the fields
	// (30 days) are not, as they should not be.
	purge(time.Hour)
	if leaks, _ := e.attackerReads(e.dir, transient); len(leaks) > 0 {
		t.Errorf("an hour after processing, the attacker still reads %v", leaks)
	}
	if leaks, _ := e.attackerReads(e.dir, []string{canaryName, canaryEmail}); len(leaks) == 0 {
		t.Fatal("control: the saved answers should still be readable within their retention")
	}

	// Past every lifetime: fields (30d), state (30d), consent proof (30d +
	// 1y): nothing is readable and no key is left.
	out := purge(30*24*time.Hour + 366*24*time.Hour)
	for _, want := range []string{"expired fields removed: 3", "conversations removed: 1", "consent records removed: 1", "idle subject keys destroyed: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("purge printed:\n%s\nwant %q", out, want)
		}
	}
	leaks, r := e.attackerReads(e.dir, canaries)
	if len(leaks) > 0 {
		t.Errorf("past every lifetime the attacker still reads %v", leaks)
	}
	if r.SubjectKeys != 0 || r.TransientKeys != 0 {
		t.Errorf("past every lifetime the attacker still unwraps %d subject keys and %d transient keys", r.SubjectKeys, r.TransientKeys)
	}
	e.scanLogs(canaries)
}
