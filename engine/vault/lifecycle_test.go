package vault

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// One test per row of Lifecycles: canary values go in, a fake clock moves
// past the row's lifetime, and the master-key attacker (AttackerView: every
// version of every key in both databases, every key it can unwrap) must
// not read them any more. Each test first checks, as a control, that the
// attacker does read them before the lifetime is over.

func TestLifecycleTableIsInPrivacyDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/privacy.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := LifecycleMarkdown(); !strings.Contains(string(doc), want) {
		t.Errorf("docs/privacy.md does not hold the lifecycle table of engine/vault/lifecycle.go; paste this:\n%s", want)
	}
	if len(Lifecycles) < 10 {
		t.Errorf("lifecycle table has %d rows; every record kind needs one", len(Lifecycles))
	}
}

func TestLifecycleInboxPayloadUnreadableAfterTurn(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v, tick := ticked(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	// The text typed at a step without save:, or an invalid answer, and the
	// sender's number: the vault holds them in the payload only.
	if _, err := v.InboxPut("wamid.A", s, []byte(`{"from":"`+canaries[2]+`","text":"`+canaries[4]+`"}`), c.Now()); err != nil {
		t.Fatal(err)
	}
	// Another message is still pending when the key rotates: it must
	// survive, re-sealed under the next key.
	if _, err := v.InboxPut("wamid.B", s, []byte(`{"text":"`+canaries[0]+`"}`), c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CommitTurn(s, Change{State: []byte("step=greet"), InboxDone: "wamid.A"}); err != nil {
		t.Fatal(err)
	}
	tick() // the payload of A leaves the inbox DB; its old versions remain
	v.Close()
	if found := attackFinds(t, dir, canaries[2], canaries[4]); len(found) != 2 {
		t.Fatalf("control: before the transient key's lifetime the attacker reads %v, want both canaries", found)
	}

	v, tick = ticked(t, dir, c)
	c.Add(defaultTransient + time.Second)
	tick() // the sync loop rotates the transient keys
	pending, err := v.InboxPending()
	if err != nil || len(pending) != 1 || pending[0].MsgID != "wamid.B" || !strings.Contains(string(pending[0].Payload), canaries[0]) {
		t.Fatalf("after rotation InboxPending = %+v, %v; want wamid.B readable", pending, err)
	}
	if dup, err := v.InboxPut("wamid.A", s, []byte("again"), c.Now()); err != nil || !dup {
		t.Errorf("InboxPut(wamid.A) after rotation = dup %v, %v; the dedupe marker must stay", dup, err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[2], canaries[4]); len(found) != 0 {
		t.Errorf("%v after the transient key's lifetime, the attacker still reads %v", defaultTransient, found)
	}
	if found := attackFinds(t, dir, canaries[0]); len(found) != 1 {
		t.Errorf("the pending message is not readable after the rotation (lost)")
	}

	// Once B is processed too, nothing of either message is left.
	v, tick = ticked(t, dir, c)
	if _, err := v.CommitTurn(s, Change{State: []byte("step=name"), InboxDone: "wamid.B"}); err != nil {
		t.Fatal(err)
	}
	c.Add(defaultTransient + time.Second)
	tick()
	v.Close()
	if found := attackFinds(t, dir, canaries...); len(found) != 0 {
		t.Errorf("after both turns and a rotation, the attacker reads %v", found)
	}
	keys, _ := os.ReadDir(filepath.Join(dir, transientDir))
	if len(keys) != 0 {
		t.Errorf("%d transient key files left with nothing pending", len(keys))
	}
}

func TestLifecycleOutboxPayloadUnreadableAfterSend(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v, tick := ticked(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	sent, err := v.OutboxPut(s, []byte("Thanks "+canaries[0]+", we wrote to "+canaries[1]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.OutboxPut(s, []byte("Never accepted: "+canaries[3])); err != nil {
		t.Fatal(err)
	}
	// A field keeps the subject's key alive: unreadability must come from
	// the transient key, not from the subject key going away.
	if err := v.Commit(s, Change{Put: []FieldRecord{{Name: "n", Value: []byte("x"), ExpiresAt: c.Now().Add(365 * day)}}}); err != nil {
		t.Fatal(err)
	}
	if err := v.OutboxDone(sent); err != nil { // Meta accepted it
		t.Fatal(err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0], canaries[1]); len(found) != 2 {
		t.Fatalf("control: right after the send the attacker reads %v, want both canaries", found)
	}

	v, tick = ticked(t, dir, c)
	c.Add(defaultTransient + time.Second)
	tick()
	out, err := v.OutboxPending()
	if err != nil || len(out) != 1 || !strings.Contains(string(out[0].Payload), canaries[3]) {
		t.Fatalf("after rotation OutboxPending = %+v, %v; want the unsent entry, readable", out, err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0], canaries[1]); len(found) != 0 {
		t.Errorf("%v after the send, the attacker still reads %v", defaultTransient, found)
	}

	// An entry never accepted is bounded too.
	v, _ = ticked(t, dir, c)
	c.Add(defaultOutboxMaxAge)
	if _, err := v.Sweep(c.Now()); err != nil {
		t.Fatal(err)
	}
	if out, _ := v.OutboxPending(); len(out) != 0 {
		t.Errorf("outbox after OutboxMaxAge = %d entries, want 0", len(out))
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[3]); len(found) != 0 {
		t.Errorf("an entry never accepted is still readable after OutboxMaxAge")
	}
}

func TestLifecycleConversationStateExpires(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	for range 2 { // two versions
		err := v.Commit(s, Change{State: []byte("step=date name=" + canaries[0]), StateKeep: 10 * day,
			Put: []FieldRecord{{Name: "email", Value: []byte(canaries[1]), ExpiresAt: c.Now().Add(365 * day)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if st, _, _ := v.LoadSubject(s, c.Now().Add(9*day)); st == nil {
		t.Fatal("state gone before its conversation_retention")
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0]); len(found) != 1 {
		t.Fatal("control: the attacker cannot read the state before its lifetime")
	}
	v = openDisk(t, dir, c)
	now := c.Add(10*day + time.Second)
	st, fields, err := v.LoadSubject(s, now)
	if err != nil || st != nil || len(fields) != 1 {
		t.Errorf("LoadSubject after conversation_retention = state %q, %d fields, %v; want no state, the field", st, len(fields), err)
	}
	sw, err := v.Sweep(now)
	if err != nil || sw.States != 1 {
		t.Errorf("Sweep = %+v, %v; want 1 state", sw, err)
	}
	if n := rawVersions(t, v, keyS(s), true); n != 0 {
		t.Errorf("%d versions of the expired state remain", n)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0]); len(found) != 0 {
		t.Errorf("after conversation_retention the attacker still reads the state")
	}
	if found := attackFinds(t, dir, canaries[1]); len(found) != 1 {
		t.Errorf("control: the field (1y) should still be readable with the live subject key")
	}
}

func TestLifecycleConsentRecordsExpireAfterProof(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	t0 := c.Now()
	err := v.Commit(s, Change{
		Consents: []ConsentRecord{
			{Purpose: "booking", Granted: true, At: t0, MessageID: canaries[3], KeepUntil: t0.Add(400 * day)},
			{Purpose: "news", Granted: true, At: t0, MessageID: canaries[4]}, // no period: Options.ConsentProof
		},
		Put: []FieldRecord{{Name: "email", Value: []byte(canaries[1]), ExpiresAt: t0.Add(5 * 365 * day)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ex, _ := v.Export(s, t0.Add(399*day)); len(ex.Consents) != 2 {
		t.Fatalf("export within the proof period has %d consent records, want 2", len(ex.Consents))
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[3], canaries[4]); len(found) != 2 {
		t.Fatal("control: the attacker cannot read the consent records within their proof period")
	}
	v = openDisk(t, dir, c)
	ex, _ := v.Export(s, t0.Add(401*day))
	if len(ex.Consents) != 1 || ex.Consents[0].Purpose != "news" {
		t.Errorf("export after the booking proof period = %+v, want only news", ex.Consents)
	}
	sw, err := v.Sweep(t0.Add(401 * day))
	if err != nil || sw.Consents != 1 {
		t.Errorf("Sweep = %+v, %v; want 1 consent record", sw, err)
	}
	sw, err = v.Sweep(t0.Add(defaultConsentProof + time.Second))
	if err != nil || sw.Consents != 1 {
		t.Errorf("Sweep after the default proof period = %+v, %v; want 1 consent record", sw, err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[3], canaries[4]); len(found) != 0 {
		t.Errorf("after the proof periods the attacker still reads %v", found)
	}
	if found := attackFinds(t, dir, canaries[1]); len(found) != 1 {
		t.Errorf("control: the field (5y) should still be readable")
	}
}

func TestLifecycleSubjectKeyDestroyedWhenIdle(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	t0 := c.Now()
	idle := v.SubjectID("whatsapp", "idle")
	if err := v.Commit(idle, Change{State: []byte("s"), Put: []FieldRecord{{Name: "email", Value: []byte(canaries[1]), ExpiresAt: t0.Add(20 * day)}}}); err != nil {
		t.Fatal(err)
	}
	keep := v.SubjectID("whatsapp", "keep")
	if err := v.Commit(keep, Change{Put: []FieldRecord{{Name: "name", Value: []byte(canaries[0]), ExpiresAt: t0.Add(365 * day)}}}); err != nil {
		t.Fatal(err)
	}
	// A chat erasure (DELETE MY DATA) confirms under a fresh key, which
	// must not stay behind once the confirmation is sent.
	erased := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(erased, Change{State: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Erase(erased, t0); err != nil {
		t.Fatal(err)
	}
	seqs, err := v.CommitTurn(erased, Change{Outbox: [][]byte{[]byte("Your data was erased.")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.OutboxDone(seqs[0]); err != nil {
		t.Fatal(err)
	}
	if sw, err := v.Sweep(t0.Add(day)); err != nil || sw.Keys != 1 {
		t.Errorf("Sweep at +1d = %+v, %v; want the erased subject's new key destroyed", sw, err)
	}
	if n := rawVersions(t, v, keyK(erased), true); n != 0 {
		t.Errorf("%d versions of the erased subject's new key remain", n)
	}
	if n := rawVersions(t, v, keyK(idle), true); n == 0 {
		t.Fatal("control: the key of a subject holding data was destroyed")
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[1]); len(found) != 1 {
		t.Fatal("control: the attacker cannot read a held field")
	}
	v = openDisk(t, dir, c)
	sw, err := v.Sweep(t0.Add(31 * day)) // field (20d) and state (30d) over
	if err != nil || sw.Keys != 1 {
		t.Errorf("Sweep at +31d = %+v, %v; want 1 key destroyed", sw, err)
	}
	for _, p := range subjectPrefixes(idle) {
		if n := rawVersions(t, v, p, false); n != 0 {
			t.Errorf("%d versions under %.3s… of the idle subject remain", n, p)
		}
	}
	v.Close()
	r, err := AttackerView(dir, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if r.SubjectKeys != 1 {
		t.Errorf("the attacker unwraps %d subject keys, want 1 (the subject still holding a field)", r.SubjectKeys)
	}
	if found := attackFinds(t, dir, canaries[1]); len(found) != 0 {
		t.Errorf("the idle subject's field is still readable")
	}
}

// TestLifecycleRestoredOutboxEntriesAreDropped: transient keys are not in
// backups, so a restored outbox entry can never be opened; Sweep drops it
// rather than keep an unreadable entry (and the subject's key) forever.
func TestLifecycleRestoredOutboxEntriesAreDropped(t *testing.T) {
	c := newClock()
	src := t.TempDir()
	v := openDisk(t, src, c)
	s := v.SubjectID("whatsapp", canaries[2])
	if _, err := v.OutboxPut(s, []byte("Thanks "+canaries[0])); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := v.Backup(&b); err != nil {
		t.Fatal(err)
	}
	v.Close()
	// The erasure ledger travels with the backup, as docs/privacy.md says.
	dir := t.TempDir()
	ledger, err := os.ReadFile(filepath.Join(src, ledgerName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ledgerName), ledger, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Restore(diskOpts(dir, c), &b); err != nil {
		t.Fatal(err)
	}
	v = openDisk(t, dir, c)
	if st, _ := v.Stats(); st.OutboxPending != 1 {
		t.Fatalf("control: the restored store holds %d outbox entries, want 1", st.OutboxPending)
	}
	if out, err := v.OutboxPending(); err != nil || len(out) != 0 {
		t.Errorf("OutboxPending after restore = %d entries, %v; want none readable", len(out), err)
	}
	sw, err := v.Sweep(c.Now())
	if err != nil || sw.Keys != 1 {
		t.Errorf("Sweep = %+v, %v; want the subject's key destroyed", sw, err)
	}
	if st, _ := v.Stats(); st.OutboxPending != 0 || st.Subjects != 0 {
		t.Errorf("after Sweep: %d outbox entries, %d subject keys; want 0 and 0", st.OutboxPending, st.Subjects)
	}
	v.Close()
}

// TestLifecycleOldConversationGoneWhenCustomerReturns: the customer writes
// again after conversation_retention but before a sweep; the new state
// replaces the old one, and the sweep still removes the old versions.
func TestLifecycleOldConversationGoneWhenCustomerReturns(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(s, Change{State: []byte("old " + canaries[0]), StateKeep: 10 * day}); err != nil {
		t.Fatal(err)
	}
	c.Add(11 * day)
	if err := v.Commit(s, Change{State: []byte("new " + canaries[4]), StateKeep: 10 * day}); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0]); len(found) != 1 {
		t.Fatal("control: the old conversation's version is not readable before the sweep")
	}
	v = openDisk(t, dir, c)
	if sw, err := v.Sweep(c.Now()); err != nil || sw.States != 1 {
		t.Errorf("Sweep = %+v, %v; want the old conversation removed", sw, err)
	}
	if st, _, err := v.LoadSubject(s, c.Now()); err != nil || string(st) != "new "+canaries[4] {
		t.Errorf("current state after the sweep = %q, %v; want the new one kept", st, err)
	}
	if n := rawVersions(t, v, keyS(s), true); n != 1 {
		t.Errorf("%d versions of the state remain, want 1 (the current one)", n)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0]); len(found) != 0 {
		t.Errorf("the old conversation is still readable after the sweep")
	}
}

// TestLifecycleLegacyRecordsGetALifetime: states and consent records
// written before they carried an expiry are dated by the first sweep (a
// state: the default retention from then; a consent record: the default
// proof period from its decision) and dropped when that is over.
func TestLifecycleLegacyRecordsGetALifetime(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	t0 := c.Now()
	if err := v.Commit(s, Change{State: []byte("x"), Consents: []ConsentRecord{{Purpose: "booking", Granted: true, At: t0, MessageID: canaries[3]}}}); err != nil {
		t.Fatal(err)
	}
	// Rewrite both as an older version of the vault did: no expiry.
	err := v.update(func(txn kvTxn) error {
		sk, err := v.readKey(txn, s)
		if err != nil {
			return err
		}
		legacy := map[string][]byte{string(keyS(s)): []byte("legacy " + canaries[0])}
		err = txn.Scan(prefixC(s), false, func(k []byte, _ kvItem) error {
			cr := ConsentRecord{Purpose: "booking", Granted: true, At: t0, MessageID: canaries[3]}
			legacy[string(k)] = encodeConsent(&cr)
			return nil
		})
		if err != nil || len(legacy) != 2 {
			t.Fatalf("legacy records: %d, %v", len(legacy), err)
		}
		for k, pt := range legacy {
			val, err := sealValue(sk.aead, []byte(k), valHdr{}, pt)
			if err != nil {
				return err
			}
			if err := txn.Set([]byte(k), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sw, err := v.Sweep(t0.Add(day)); err != nil || sw.States != 0 || sw.Consents != 0 {
		t.Fatalf("first Sweep = %+v, %v; want nothing dropped, only dated", sw, err)
	}
	if st, _, _ := v.LoadSubject(s, t0.Add(30*day)); string(st) != "legacy "+canaries[0] {
		t.Errorf("legacy state within its new lifetime = %q", st)
	}
	sw, err := v.Sweep(t0.Add(day + defaultConversation + time.Second))
	if err != nil || sw.States != 1 {
		t.Errorf("Sweep after the default retention = %+v, %v; want the legacy state dropped", sw, err)
	}
	sw, err = v.Sweep(t0.Add(defaultConsentProof + time.Second))
	if err != nil || sw.Consents != 1 || sw.Keys != 1 {
		t.Errorf("Sweep after the default proof period = %+v, %v; want the legacy consent record and the key dropped", sw, err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0], canaries[3]); len(found) != 0 {
		t.Errorf("legacy records still readable: %v", found)
	}
}

// TestLifecycleRotationLosesNothingUnderLoad: messages arrive, turns
// commit and replies queue while transient keys rotate again and again;
// every message not processed and every reply not sent stays readable,
// with its own payload.
func TestLifecycleRotationLosesNothingUnderLoad(t *testing.T) {
	c := newClock()
	o := diskOpts(t.TempDir(), c)
	o.OutboxMaxAge = 100 * 365 * day // the clock runs fast here; no reply is too old
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const workers, each = 4, 50
	stop := make(chan struct{})
	rotated := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				rotated <- n
				return
			default:
			}
			c.Add(defaultTransient + time.Second)
			if err := v.rotateTransient(c.Now(), false); err != nil {
				t.Error(err)
			}
			n++
		}
	}()
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			s := v.SubjectID("whatsapp", string(rune('a'+w)))
			for i := range each {
				id := fmt.Sprintf("m-%d-%d", w, i)
				if _, err := v.InboxPut(id, s, []byte("in "+id), c.Now()); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if _, err := v.CommitTurn(s, Change{State: []byte(id), InboxDone: id, Outbox: [][]byte{[]byte("out " + id)}}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	close(stop)
	if n := <-rotated; n < 2 {
		t.Fatalf("only %d rotations ran during the load", n)
	}
	pending, err := v.InboxPending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != workers*each/2 {
		t.Errorf("%d messages pending, want %d", len(pending), workers*each/2)
	}
	for _, e := range pending {
		if string(e.Payload) != "in "+e.MsgID {
			t.Errorf("pending %s holds %q", e.MsgID, e.Payload)
		}
	}
	out, err := v.OutboxPending()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != workers*each/2 {
		t.Errorf("%d replies readable, want %d", len(out), workers*each/2)
	}
	for _, o := range out {
		if !strings.HasPrefix(string(o.Payload), "out m-") {
			t.Errorf("reply %d holds %q", o.Seq, o.Payload)
		}
	}
}

// TestLifecycleFieldValuesUnreadableAfterRetention: the field row, against
// the master-key attacker (TestExpiryUsesStoredTimeAndSweepRemovesAllVersions
// counts versions; this reads them).
func TestLifecycleFieldValuesUnreadableAfterRetention(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	t0 := c.Now()
	for _, val := range []string{canaries[0], canaries[4]} { // two versions
		err := v.Commit(s, Change{Put: []FieldRecord{
			{Name: "name", Value: []byte(val), ExpiresAt: t0.Add(30 * day)},
			{Name: "email", Value: []byte(canaries[1]), ExpiresAt: t0.Add(365 * day)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0], canaries[4]); len(found) != 2 {
		t.Fatalf("control: within retention the attacker reads %v, want both versions", found)
	}
	v = openDisk(t, dir, c)
	if sw, err := v.Sweep(t0.Add(31 * day)); err != nil || sw.Expired != 1 {
		t.Errorf("Sweep = %+v, %v; want 1 expired field", sw, err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[0], canaries[4]); len(found) != 0 {
		t.Errorf("after the field's retention the attacker still reads %v", found)
	}
	if found := attackFinds(t, dir, canaries[1]); len(found) != 1 {
		t.Errorf("control: the field kept for 1y should stay readable")
	}
}

// TestLifecycleRecipientRecordKeepsTheKeyThenGoes: a subject whose fields and
// conversation have expired still holds a recipient record (an integration
// was sent data), so its key stays and a later erasure can still notify the
// recipient; once RecipientKeep has passed, Sweep drops the record and the
// key, and the attacker can read neither.
func TestLifecycleRecipientRecordKeepsTheKeyThenGoes(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	t0 := c.Now()
	s := v.SubjectID("whatsapp", "recipient")
	r := crmRecipient()
	r.OnErase = "https://crm.example.test/erase/" + canaries[4]
	err := v.Commit(s, Change{State: []byte("s"), Sent: []Recipient{r},
		Put: []FieldRecord{{Name: "email", Value: []byte(canaries[1]), ExpiresAt: t0.Add(20 * day)}}})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[4]); len(found) != 1 {
		t.Fatal("control: the attacker cannot read the recipient record")
	}
	v = openDisk(t, dir, c)
	if sw, err := v.Sweep(t0.Add(31 * day)); err != nil || sw.Keys != 0 || sw.Recipients != 0 {
		t.Errorf("Sweep at +31d = %+v, %v; want the key kept for the unexpired recipient record", sw, err)
	}
	if got, err := v.Recipients(s, t0.Add(31*day)); err != nil || len(got) != 1 {
		t.Errorf("Recipients at +31d = %d, %v; want the one recipient", len(got), err)
	}
	later := t0.Add(RecipientKeep + 32*day)
	if sw, err := v.Sweep(later); err != nil || sw.Keys != 1 || sw.Recipients != 1 {
		t.Errorf("Sweep after RecipientKeep = %+v, %v; want the record and the key gone", sw, err)
	}
	for _, p := range subjectPrefixes(s) {
		if n := rawVersions(t, v, p, false); n != 0 {
			t.Errorf("%d versions under %.3s… remain", n, p)
		}
	}
	v.Close()
	if found := attackFinds(t, dir, canaries[4], canaries[1]); len(found) != 0 {
		t.Errorf("after RecipientKeep the attacker still reads %q", found)
	}
}
