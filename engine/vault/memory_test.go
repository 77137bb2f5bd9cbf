package vault

import (
	"fmt"
	"testing"
	"time"
)

// tracked is what the vault holds in memory that could follow the number
// of customers: pending inbox references, processed entries awaiting the
// purge, unsynced key creations, cached subject ciphers and transient keys.
func (v *Vault) tracked() map[string]int {
	v.inboxMu.Lock()
	seqs, purge := len(v.inboxSeqs), len(v.toPurge)
	v.inboxMu.Unlock()
	v.keyMu.Lock()
	keys := len(v.newKeys)
	v.keyMu.Unlock()
	v.tk.mu.Lock()
	transient := len(v.tk.keys)
	v.tk.mu.Unlock()
	return map[string]int{"inbox references": seqs, "entries to purge": purge, "unsynced keys": keys,
		"transient keys": transient, "subject ciphers": v.ciphers.len()}
}

// TestMemoryDoesNotFollowCustomers runs rounds of distinct customers
// through what a turn does to the vault (inbound message stored, turn
// committed with its reply and the message marked processed, reply
// acknowledged, the background sync and purge) and checks that what the
// vault holds in memory afterwards does not grow from one round to the
// next: every per-message or per-subject entry is dropped once its work is
// done, and the subject cipher cache stays under its bound.
func TestMemoryDoesNotFollowCustomers(t *testing.T) {
	c := newClock()
	o := diskOpts(t.TempDir(), c)
	o.SyncInterval = time.Hour // the test runs the sync and purge itself
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const perRound = 60
	round := func(r int) map[string]int {
		t.Helper()
		for i := range perRound {
			user, msg := fmt.Sprintf("wa-user-%d-%d", r, i), fmt.Sprintf("wamid.%d.%d", r, i)
			s := v.SubjectID("whatsapp", user)
			if _, err := v.InboxPut(msg, s, []byte("hi"), c.Now()); err != nil {
				t.Fatal(err)
			}
			seqs, err := v.CommitTurn(s, Change{State: []byte("st"), Channel: "whatsapp", User: user,
				Outbox: [][]byte{[]byte("reply")}, InboxDone: msg})
			if err != nil || len(seqs) != 1 {
				t.Fatalf("CommitTurn = %v, %v", seqs, err)
			}
			if err := v.OutboxDone(seqs[0]); err != nil {
				t.Fatal(err)
			}
		}
		if err := v.syncAndPurge(); err != nil {
			t.Fatal(err)
		}
		return v.tracked()
	}
	first := round(1)
	if n := first["subject ciphers"]; n == 0 || n > maxSubjectCiphers {
		t.Errorf("%d subject ciphers cached after %d customers, want 1..%d", n, perRound, maxSubjectCiphers)
	}
	for r := 2; r <= 3; r++ {
		got := round(r)
		for what, n := range got {
			limit := first[what]
			if what == "subject ciphers" {
				limit = min(r*perRound, maxSubjectCiphers) // a bounded cache of recent subjects
			}
			if n > limit {
				t.Errorf("after %d customers the vault holds %d %s, after %d it held %d", r*perRound, n, what, perRound, first[what])
			}
		}
	}
	for what, n := range first {
		if what != "subject ciphers" && what != "transient keys" && n != 0 {
			t.Errorf("%d %s left after every turn was done, synced and purged, want 0", n, what)
		}
	}
}
