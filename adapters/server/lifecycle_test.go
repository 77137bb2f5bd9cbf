package server_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

// TestWhatsAppMessagesUnreadableAfterTheirLifetime: a booking through
// signed webhooks, then the injected clock moves past the transient key
// period and the server stops. The master-key attacker (every version of
// every key Badger keeps) can no longer read the sender's number, the
// invalid answer or a reply with the name, from the inbox or the outbox,
// while the saved answers (30 days) stay readable. The control run, with
// the clock not moved, shows the attacker reading them.
func TestWhatsAppMessagesUnreadableAfterTheirLifetime(t *testing.T) {
	// Badger only: its control reads what the files keep of processed
	// messages; on PostgreSQL a deleted row leaves the attacker's row view
	// at once, and what its pages keep is checked on the raw cluster files
	// (engine/vault TestPostgresErasureAndExpiryLeaveNothing).
	func(backend string) {
		const (
			phone = "15550009876"
			name  = "Zephyrine Quillfeather"
			email = "zq.canary@example.org"
		)
		// The sender's number in the inbox payloads and the recipient's in the
		// outbox ones (the harness's message ids also hold the number, and a
		// consent record keeps the id of its answer for its proof period, so
		// the bare number is not a canary here), the invalid answer, a reply
		// with the name.
		unsaved := []string{`"from":"` + phone + `"`, `"to":"` + phone + `"`, "not-an-email", "All set, " + name}
		run := func(move time.Duration) *vault.Recovered {
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			e := newEnv(t, envOptions{backend: backend, now: clock})
			e.converse(t, phone, name, email)
			mu.Lock()
			now = now.Add(move)
			mu.Unlock()
			e.shutdown(t)
			if err := e.vault.Close(); err != nil {
				t.Fatal(err)
			}
			r := e.backend.attackerView(t)
			return r
		}
		reads := func(r *vault.Recovered, secrets ...string) (found []string) {
			for _, s := range secrets {
				if r.Contains([]byte(s)) {
					found = append(found, s)
				}
			}
			return found
		}
		if got := reads(run(0), unsaved...); len(got) != len(unsaved) {
			t.Fatalf("control: right after the conversation the attacker reads %v, want %v", got, unsaved)
		}
		r := run(5*time.Minute + time.Second)
		if got := reads(r, unsaved...); len(got) != 0 {
			t.Errorf("past the transient key period the attacker still reads %v", got)
		}
		if got := reads(r, name, email); len(got) != 2 {
			t.Errorf("the saved answers should stay readable within their retention; the attacker reads %v", got)
		}
		if r.TransientKeys != 0 {
			t.Errorf("%d transient keys left with no message pending", r.TransientKeys)
		}
	}("badger")
}

// TestWhatsAppChatErasureLeavesNoKeyBehind: DELETE MY DATA then YES through
// signed webhooks erases the customer and confirms under a fresh subject
// key; once the confirmation is sent, the sweep destroys that key too, so
// the master-key attacker unwraps no key of the customer.
func TestWhatsAppChatErasureLeavesNoKeyBehind(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := newEnv(t, envOptions{backend: backend})
		const user = "15550001234"
		e.converse(t, user, "Zephyrine Quillfeather", "zq.canary@example.org")
		n := len(e.graph.deliveredTo(user))
		for i, text := range []string{"DELETE MY DATA", "YES"} {
			if st := e.post(t, textWebhook(user, fmt.Sprintf("wamid.ERASE.%d", i), text, time.Now())); st != http.StatusOK {
				t.Fatalf("webhook answered %d", st)
			}
			n++
			e.graph.waitDelivered(t, user, n)
		}
		e.shutdown(t) // flushes the acknowledgements of sent replies
		if st := e.stats(t); st.Subjects != 1 || st.OutboxPending != 0 {
			t.Fatalf("control: after the erasure %d subject keys and %d queued replies, want the confirmation's fresh key and none", st.Subjects, st.OutboxPending)
		}
		sw, err := e.vault.Sweep(time.Now())
		if err != nil || sw.Keys != 1 {
			t.Errorf("Sweep = %+v, %v; want the fresh key destroyed", sw, err)
		}
		if err := e.vault.Close(); err != nil {
			t.Fatal(err)
		}
		r := e.backend.attackerView(t)
		if r.SubjectKeys != 0 {
			t.Errorf("the attacker still unwraps %d subject keys after a chat erasure and a sweep", r.SubjectKeys)
		}
	})
}
