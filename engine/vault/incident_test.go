package vault

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// holdsAddress reports whether ch/<s> is in the store.
func holdsAddress(t *testing.T, v *Vault, s SubjectID) bool {
	t.Helper()
	held := false
	err := v.view(func(txn kvReader) error {
		_, err := txn.Get(keyCH(s))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		held = err == nil
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return held
}

// TestLifecycleChannelAddress: with an address key set, a turn holds the
// customer's number; only the private address key reads it back (not the
// master-key attacker), a vault without the key holds none, and the record
// goes with the subject's key: on erasure, and at the sweep once the
// subject holds nothing else.
func TestLifecycleChannelAddress(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	pubB64, privB64, err := NewAddressKey()
	if err != nil {
		t.Fatal(err)
	}
	number, other, erased := canaries[2], "wa-user-other-771", "wa-user-erased-772"
	s, o, e := v.SubjectID("whatsapp", number), v.SubjectID("whatsapp", other), v.SubjectID("whatsapp", erased)
	field := func() []FieldRecord {
		return []FieldRecord{{Name: "name", Value: []byte("x"), Purpose: "booking", ExpiresAt: c.Now().Add(time.Hour)}}
	}
	// Before the key is set no address is held.
	if err = v.Commit(o, Change{Put: field(), Channel: "whatsapp", User: other}); err != nil {
		t.Fatal(err)
	}
	pub, err := ParseAddressPublicKey(pubB64)
	if err != nil {
		t.Fatal(err)
	}
	v.HoldAddresses(pub)
	for _, x := range []struct {
		s    SubjectID
		user string
	}{{s, number}, {e, erased}} {
		if err := v.Commit(x.s, Change{Put: field(), State: []byte("st"), StateKeep: time.Hour, Channel: "whatsapp", User: x.user}); err != nil {
			t.Fatal(err)
		}
	}
	if holdsAddress(t, v, o) || !holdsAddress(t, v, s) {
		t.Fatalf("addresses held: without the key %v, with it %v; want false, true", holdsAddress(t, v, o), holdsAddress(t, v, s))
	}
	in, err := v.AddIncident(Incident{What: "test", Kinds: []string{"fields"}, DetectedAt: c.Now()}, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParseAddressPrivateKey(privB64)
	if err != nil {
		t.Fatal(err)
	}
	aud, err := v.IncidentAudience(in.ID, priv, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[SubjectID]Addressee{}
	for _, a := range aud {
		got[a.Subject] = a
	}
	if len(aud) != 3 || got[s].User != number || got[s].Channel != "whatsapp" || got[o].Held {
		t.Fatalf("audience %+v: want all three, %s's number read back, none held for the one before the key", aud, s)
	}
	if _, err := v.Erase(e, c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	if holdsAddress(t, v, e) {
		t.Error("an erased subject's address is still held after the purge")
	}
	if aud, _ := v.IncidentAudience(in.ID, nil, c.Now()); len(aud) != 2 {
		t.Errorf("after the erasure the audience has %d subjects, want 2", len(aud))
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if found := attackFinds(t, dir, number); len(found) > 0 {
		t.Errorf("the master-key attacker reads the held number %v", found)
	}
	v = openDisk(t, dir, c)
	defer v.Close()
	c.Add(2 * time.Hour)
	if _, err := v.Sweep(c.Now()); err != nil {
		t.Fatal(err)
	}
	if holdsAddress(t, v, s) {
		t.Error("the address outlived every other record of its subject")
	}
}

// TestIncidentRecordsAreNumberedNotifiedOnceAndSwept: ids count per
// detection day; a second notification is refused; Sweep keeps a record
// until IncidentKeep has passed and then drops it.
func TestIncidentRecordsAreNumberedNotifiedOnceAndSwept(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	a, err := v.AddIncident(Incident{What: "a", Kinds: []string{"consents"}, DetectedAt: c.Now()}, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.AddIncident(Incident{What: "b", Kinds: []string{"fields"}, Purposes: []string{"booking"}, EstimatedSubjects: 7, DetectedAt: c.Now()}, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "2026-03-01-1" || b.ID != "2026-03-01-2" {
		t.Fatalf("ids %q and %q, want 2026-03-01-1 and -2", a.ID, b.ID)
	}
	if _, err := v.AddIncident(Incident{What: "x", Kinds: []string{"files"}}, c.Now()); err == nil {
		t.Error("an unknown record kind was accepted")
	}
	got, err := v.GetIncident(b.ID)
	if err != nil || got.What != "b" || got.EstimatedSubjects != 7 || len(got.Purposes) != 1 {
		t.Fatalf("GetIncident = %+v, %v", got, err)
	}
	n, err := v.NotifyIncident(a.ID, "whatsapp", "breach_notice", "en", nil, func(string) []byte { return nil }, c.Now())
	if err != nil || n != 0 {
		t.Fatalf("NotifyIncident = %d, %v; want 0 queued (nobody holds records)", n, err)
	}
	if _, err := v.NotifyIncident(a.ID, "whatsapp", "breach_notice", "en", nil, func(string) []byte { return nil }, c.Now()); !errors.Is(err, ErrIncidentNotified) {
		t.Errorf("a second NotifyIncident = %v, want ErrIncidentNotified", err)
	}
	c.Add(IncidentKeep - time.Hour)
	if st, err := v.Sweep(c.Now()); err != nil || st.Incidents != 0 {
		t.Fatalf("Sweep before IncidentKeep dropped %d incidents (%v)", st.Incidents, err)
	}
	c.Add(2 * time.Hour)
	if st, err := v.Sweep(c.Now()); err != nil || st.Incidents != 2 {
		t.Fatalf("Sweep after IncidentKeep dropped %d incidents (%v), want 2", st.Incidents, err)
	}
	if all, err := v.Incidents(); err != nil || len(all) != 0 {
		t.Errorf("after the sweep %d incidents remain (%v)", len(all), err)
	}
}

// TestIncidentNotifyQueuesTheAffected: NotifyIncident queues one outbox
// entry per affected subject whose address is held, in one transaction,
// with the payload built for that subject's user; others get nothing.
func TestIncidentNotifyQueuesTheAffected(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	priv := holdAddresses(t, v)
	users := map[string]string{"ann": "booking", "bob": "newsletter", "cat": "booking"}
	for user, purpose := range users {
		ch := "whatsapp"
		if user == "cat" {
			ch = "web" // held, but not on the channel notified
		}
		err := v.Commit(v.SubjectID(ch, user), Change{Channel: ch, User: user,
			Put: []FieldRecord{{Name: "email", Value: []byte("x"), Purpose: purpose, ExpiresAt: c.Now().Add(time.Hour)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	in, err := v.AddIncident(Incident{What: "t", Kinds: []string{"fields"}, Purposes: []string{"booking"}, DetectedAt: c.Now()}, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	n, err := v.NotifyIncident(in.ID, "whatsapp", "breach_notice", "en", priv, func(user string) []byte { return []byte("to:" + user) }, c.Now())
	if err != nil || n != 1 {
		t.Fatalf("NotifyIncident = %d, %v; want 1 (ann: booking on WhatsApp)", n, err)
	}
	pending, err := v.OutboxPending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || string(pending[0].Payload) != "to:ann" || pending[0].Subject != v.SubjectID("whatsapp", "ann") {
		t.Fatalf("outbox holds %+v, want one entry to ann", pending)
	}
	got, err := v.GetIncident(in.ID)
	if err != nil || got.Notified != 1 || got.Template != "breach_notice" || got.NotifiedAt.IsZero() {
		t.Errorf("incident after notify: %+v, %v", got, err)
	}
}

// BenchmarkCommitHoldingAddress is BenchmarkCommit with an address key
// set and every turn naming its address, measured on subjects that hold
// it already: ordinary turns (no new key, no consent) must cost the same.
func BenchmarkCommitHoldingAddress(b *testing.B) {
	v, _, c := benchVault(b, 0)
	pubB64, _, err := NewAddressKey()
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := ParseAddressPublicKey(pubB64)
	v.HoldAddresses(pub)
	// The address is written at a subject's first turn (an X25519 key
	// agreement); the turns measured are later ones.
	for i := range 5000 {
		user := fmt.Sprint(i)
		ch := turnChange(c, i)
		ch.Channel, ch.User = "whatsapp", user
		if err := v.Commit(v.SubjectID("whatsapp", user), ch); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			user := fmt.Sprint(i % 5000)
			ch := turnChange(c, i)
			ch.Channel, ch.User = "whatsapp", user
			if err := v.Commit(v.SubjectID("whatsapp", user), ch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
