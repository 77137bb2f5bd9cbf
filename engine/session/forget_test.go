package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// TestAnswerForgottenInItsOwnTurnIsNeverWritten: a turn that stores an
// answer and then forgets it (a forget step, or a call's on_fail that drops
// it) writes nothing of it: the master-key attacker reading every version
// Badger keeps does not find it. The control turn, without the forget,
// shows the attacker reading it.
func TestAnswerForgottenInItsOwnTurnIsNeverWritten(t *testing.T) {
	const canary = "canary.forgotten@example.org"
	for _, forget := range []bool{false, true} {
		dir, key := t.TempDir(), masterKey(t)
		v, err := vault.Open(vault.Options{Dir: dir, MasterKey: key, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		s := session.New(v)
		eff := []runtime.Effect{{Kind: runtime.EffectStore, Field: "email", Purpose: "newsletter", Basis: "consent",
			Value: runtime.Value{V: canary, CollectedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}}}
		if forget {
			eff = append(eff, runtime.Effect{Kind: runtime.EffectDelete, Field: "email", Purpose: "newsletter", Basis: "consent"})
		}
		if err := s.Save(context.Background(), s.Subject("web", "ada"), &runtime.State{Flow: "optin"}, eff, t0); err != nil {
			t.Fatal(err)
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := vault.AttackerView(dir, key)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Contains([]byte(canary)); got == forget {
			t.Errorf("forgotten in the same turn %t: the attacker reads the answer: %t", forget, got)
		}
	}
}
