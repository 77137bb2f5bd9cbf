package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// TestPostgresEveryRecordKindOfAnErasedCustomerLeavesNothing extends
// TestPostgresErasureAndExpiryLeaveNothing to the record kinds added since:
// reminders, broadcast contacts, the hand-off transcript and queue entry,
// the channel address, window state and the work queue entries of inbox
// and outbox, all of one customer who is then erased; a staff account that
// is removed; an incident whose five years pass. An operator holding the
// cluster's files, the master key and even the private address key then
// finds none of the sealed values in the raw files (pg_dump included),
// nothing readable through every record and transient key the database
// holds, no queue entry of the customer, and no address to notify.
func TestPostgresEveryRecordKindOfAnErasedCustomerLeavesNothing(t *testing.T) {
	c := newClock()
	url := pgtest.URL(t)
	v, st := openPG(t, url, c)
	priv := holdAddresses(t, v)

	const (
		user        = "447700900123"
		transcript  = "Quokkafeather handoff transcript line"
		staffSecret = "staff-canary-Wrenfield-argon2"
		incident    = "incident-canary laptop left on the Tuesday train"
	)
	s := v.SubjectID("whatsapp", user)
	at := c.Now()
	err := v.Commit(s, Change{Channel: "whatsapp", User: user, State: []byte("state of " + canaries[0]),
		Put: []FieldRecord{
			{Name: "name", Value: []byte(canaries[0]), Purpose: "booking", Basis: "contract", CollectedAt: at, ExpiresAt: at.Add(30 * day)},
			{Name: TranscriptPrefix + "1.0.customer", Value: []byte(transcript), Purpose: "booking", Basis: "contract", CollectedAt: at, ExpiresAt: at.Add(30 * day)},
		},
		Consents: []ConsentRecord{{Purpose: "newsletter", Granted: true, At: at, Flow: "news"}},
		Remind: []Reminder{{Subject: s, Purpose: "booking", Flow: "dental", Template: "appointment_reminder",
			At: at.Add(48 * time.Hour), Until: at.Add(48*time.Hour + ReminderGrace), Channel: "whatsapp", To: canaries[2]}},
		Contacts: []Contact{{Purpose: "newsletter", Flow: "news", Channel: "whatsapp", To: canaries[2], Granted: at, Until: at.Add(365 * day)}},
		Handoff:  &HandoffEntry{Channel: "whatsapp", Flow: "dental", Reason: "keyword", Since: at, Until: at.Add(4 * time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.WindowClosed(s, at); err != nil {
		t.Fatal(err)
	}
	if _, err := v.InboxPut("wamid.KINDS1", s, []byte(`{"from":"`+canaries[2]+`","text":"`+canaries[4]+`"}`), at); err != nil {
		t.Fatal(err)
	}
	if _, err := v.OutboxPut(s, []byte("Thanks "+canaries[0]+", see you Monday")); err != nil {
		t.Fatal(err)
	}
	if err := v.StaffPut("account", "wren", []byte(staffSecret), time.Time{}, at); err != nil {
		t.Fatal(err)
	}
	in, err := v.AddIncident(Incident{What: incident, Kinds: []string{"fields"}, DetectedAt: at}, at)
	if err != nil {
		t.Fatal(err)
	}

	// What must go: every sealed value of the customer, its queue
	// entries' payloads, the staff record, the incident.
	var sealed [][]byte
	var sealedKeys []string
	goes := append(subjectPrefixes(s), keyWN(s), prefixIQ, prefixOut, []byte("st/"), []byte("ic/"))
	kinds := map[string]bool{}
	err = st.View(context.Background(), func(r store.Reader) error {
		for _, p := range goes {
			err := r.Scan(p, func(rec store.Record) error {
				kinds[string(rec.Key[:bytes.IndexByte(rec.Key, '/')+1])] = true
				if len(rec.Value) >= 40 {
					sealed = append(sealed, rec.Value[len(rec.Value)-24:])
					sealedKeys = append(sealedKeys, string(rec.Key[:bytes.IndexByte(rec.Key, '/')+1]))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, q := range []string{QueueInbox, QueueOutbox} {
			err := r.ScanQueue(q, func(e store.Entry) error {
				kinds["queue:"+q] = true
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k/", "s/", "f/", "c/", "ch/", "t/", "b/", "hq/", "wn/", "iq/", "out/", "st/", "ic/", "queue:" + QueueInbox, "queue:" + QueueOutbox} {
		if !kinds[k] {
			t.Errorf("before the erasure the database holds no %s record: the test does not cover that kind", k)
		}
	}
	seen, err := AttackerViewStore(st, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	seen.Plaintext = append(seen.Plaintext, metaPlaintext(t, v, st)...)
	for _, want := range []string{canaries[0], transcript, staffSecret, incident} {
		if !seen.Contains([]byte(want)) {
			t.Fatalf("before the erasure the attacker view reads no %q: the check below could not fail", want)
		}
	}
	if aud, err := v.IncidentAudience(in.ID, priv, c.Now()); err != nil || len(aud) != 1 {
		t.Fatalf("before the erasure IncidentAudience = %+v, %v; want the customer", aud, err)
	}
	if raw := pgtest.Raw(t, url); !containsAny(raw, sealed) {
		t.Fatal("before the erasure the raw files hold none of the sealed values: the scan below could not fail")
	}

	// The operator's actions: erase the customer, remove the staff member,
	// let the incident's five years pass, sweep.
	if r, err := v.Erase(s, c.Now()); err != nil || !r.KeyDestroyed {
		t.Fatalf("Erase = %+v, %v", r, err)
	}
	if err := v.StaffDelete("account", "wren"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Sweep(c.Now()); err != nil {
		t.Fatal(err)
	}
	c.Add(IncidentKeep + day)
	if _, err := v.Sweep(c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}

	if _, err := v.GetIncident(in.ID); err == nil {
		t.Errorf("the incident is still held after its five years")
	}
	if aud, err := v.IncidentAudience(in.ID, priv, c.Now()); err == nil && len(aud) != 0 {
		t.Errorf("after the erasure the private address key still finds %d addresses", len(aud))
	}
	err = st.View(context.Background(), func(r store.Reader) error {
		for _, q := range []string{QueueInbox, QueueOutbox} {
			err := r.ScanQueue(q, func(e store.Entry) error {
				t.Errorf("queue %s still holds an entry (partition %s) after the erasure", q, e.Partition)
				return nil
			})
			if err != nil {
				return err
			}
		}
		_, err := r.Get(keyWN(s))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("window state of the erased customer: %v, want gone", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen, err = AttackerViewStore(st, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	seen.Plaintext = append(seen.Plaintext, metaPlaintext(t, v, st)...)
	for _, gone := range append([]string{transcript, staffSecret, incident}, canaries...) {
		for _, n := range needles(gone) {
			if seen.Contains([]byte(n)) {
				t.Errorf("the attacker with the master key reads %q from the database", gone)
			}
		}
	}
	raw := pgtest.Raw(t, url)
	assertBytesClean(t, "postgres data files", raw)
	for _, gone := range []string{transcript, staffSecret, incident} {
		if bytes.Contains(raw, []byte(gone)) {
			t.Errorf("the raw files hold %q in plaintext", gone)
		}
	}
	for i, b := range sealed {
		if bytes.Contains(raw, b) {
			t.Errorf("sealed value %d (a %s record) is still in the raw files after erasure, removal, expiry and sweeps", i, sealedKeys[i])
		}
	}
}

// metaPlaintext is what the attacker opens of the records sealed under the
// meta key (derived from the master key): staff records and incidents,
// which AttackerViewStore (subject and transient keys) does not try.
func metaPlaintext(t *testing.T, v *Vault, st store.Store) [][]byte {
	t.Helper()
	var out [][]byte
	err := st.View(context.Background(), func(r store.Reader) error {
		for _, p := range []string{"st/", "ic/"} {
			err := r.Scan([]byte(p), func(rec store.Record) error {
				if pt, err := openValue(v.meta, rec.Key, rec.Value); err == nil {
					out = append(out, pt)
				} else if pt, err := open(v.meta, rec.Value, rec.Key); err == nil {
					out = append(out, pt)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
