package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	sbadger "github.com/parleyhq/parley/engine/store/badger"
)

// decryptable is the attacker of the move tests: holding the data directory
// and the master key, it unwraps every version of the subject's data key
// Badger still keeps and opens every version of every state, field and
// consent record of the subject with each of them. It returns what it could
// read.
func decryptable(t *testing.T, v *Vault, s SubjectID) []string {
	t.Helper()
	var deks [][]byte
	var out []string
	ctx := context.Background()
	err := v.bdb.ScanVersions(ctx, keyK(s), func(ver sbadger.Version) error {
		b := ver.Value
		if len(b) < keyHdrLen || b[1] != keyLive {
			return nil
		}
		if dek, err := open(v.kek, b[keyHdrLen:], append(keyK(s), b[:keyHdrLen]...)); err == nil {
			deks = append(deks, dek)
		}
		return nil
	})
	for _, p := range [][]byte{keyS(s), prefixF(s), prefixC(s)} {
		if err != nil {
			break
		}
		err = v.bdb.ScanVersions(ctx, p, func(ver sbadger.Version) error {
			for _, dek := range deks {
				a, _ := newGCM(dek)
				if pt, err := openValue(a, ver.Key, ver.Value); err == nil {
					out = append(out, string(pt))
				}
			}
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func containsCanary(texts []string) bool {
	for _, s := range texts {
		for _, c := range canaries {
			if strings.Contains(s, c) {
				return true
			}
		}
	}
	return false
}

// TestMoveReKeysAndShredsTheOldSubject: a number change moves state, fields
// and consents under the new subject's key with their retention unchanged,
// and afterwards nothing of the old subject can be decrypted from any
// version in the files with the master key.
func TestMoveReKeysAndShredsTheOldSubject(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	old := fillSubject(t, v, c)
	to := v.SubjectID("whatsapp", "wa-new-number-5550001")
	before, err := v.Export(old, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := decryptable(t, v, old); !containsCanary(got) {
		t.Fatalf("the attacker reads nothing of the old subject even before the move (%d records): the check proves nothing", len(got))
	}

	r, err := v.Move(old, to, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != MoveMoved || r.States != 1 || r.Fields != 3 || r.Consents != 1 || !r.Erasure.KeyDestroyed {
		t.Errorf("Move = %+v, want moved 1 state, 3 fields, 1 consent and the old key destroyed", r)
	}
	after, err := v.Export(to, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after.State, before.State) {
		t.Errorf("state under the new subject = %q, want %q", after.State, before.State)
	}
	if len(after.Fields) != len(before.Fields) {
		t.Fatalf("fields under the new subject = %d, want %d", len(after.Fields), len(before.Fields))
	}
	for i, f := range after.Fields {
		b := before.Fields[i]
		if f.Name != b.Name || string(f.Value) != string(b.Value) || f.Purpose != b.Purpose || f.Basis != b.Basis ||
			!f.CollectedAt.Equal(b.CollectedAt) || !f.ExpiresAt.Equal(b.ExpiresAt) {
			t.Errorf("field %s moved as %+v, want %+v (retention must not change)", b.Name, f, b)
		}
	}
	if len(after.Consents) != 1 || after.Consents[0] != before.Consents[0] {
		t.Errorf("consents under the new subject = %+v, want %+v", after.Consents, before.Consents)
	}
	// Expiry still counts from the original collection: the email (30 days)
	// is gone 30 days after it was given, not after the move.
	_, fields, _ := v.LoadSubject(to, before.At.Add(30*day+1))
	if got := fieldNames(fields); len(got) != 1 || got[0] != "name" {
		t.Errorf("fields of the new subject 30 days after collection = %v, want [name]", got)
	}
	if ex, _ := v.Export(old, c.Now()); ex.State != nil || len(ex.Fields)+len(ex.Consents) != 0 {
		t.Errorf("old subject still exports %+v", ex)
	}

	// The old key is shredded at once; the batched purge (run here by hand)
	// then drops every version of the old key and ciphertexts.
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	if got := decryptable(t, v, old); len(got) != 0 {
		t.Errorf("after the move the attacker still decrypts %d records of the old subject", len(got))
	}
	for _, p := range subjectPrefixes(old) {
		if n := rawVersions(t, v, p, false); n != 0 {
			t.Errorf("after purge, %d versions under %.3s… of the old subject remain", n, p)
		}
	}
	// The audit entry names pseudonyms only.
	var audit []string
	v.view(func(txn kvReader) error {
		return txn.Scan([]byte("a/"), true, func(_ []byte, item kvItem) error {
			b, _ := item.ValueCopy(nil)
			audit = append(audit, string(b))
			return nil
		})
	})
	joined := strings.Join(audit, "\n")
	if !strings.Contains(joined, `"action":"subject.move"`) || !strings.Contains(joined, to.Hex()) || !strings.Contains(joined, r.Erasure.ID) {
		t.Errorf("audit log lacks the move: %s", joined)
	}
	assertBytesClean(t, "audit log", []byte(joined))
	if _, err := v.AuditVerify(); err != nil {
		t.Errorf("AuditVerify after a move: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoCanaries(t, dir)
}

// TestMoveRefusesToMerge: when the new number already holds a conversation
// nothing is copied over it, and the old subject is erased all the same.
func TestMoveRefusesToMerge(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	old := fillSubject(t, v, c)
	to := v.SubjectID("whatsapp", "wa-reassigned-number")
	if err := v.Commit(to, Change{State: []byte("someone else's conversation")}); err != nil {
		t.Fatal(err)
	}
	r, err := v.Move(old, to, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != MoveRefused || r.Fields != 0 || !r.Erasure.KeyDestroyed {
		t.Errorf("Move = %+v, want refused and the old subject erased", r)
	}
	ex, _ := v.Export(to, c.Now())
	if string(ex.State) != "someone else's conversation" || len(ex.Fields) != 0 || len(ex.Consents) != 0 {
		t.Errorf("new subject after a refused move = %+v, want its own state only", ex)
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	if got := decryptable(t, v, old); len(got) != 0 {
		t.Errorf("the old subject is still readable after a refused move: %d records", len(got))
	}
	// A repeat (the notice redelivered after a crash) finds nothing to move.
	r, err = v.Move(old, to, c.Now())
	if err != nil || r.Outcome != MoveNothing {
		t.Errorf("second Move = %+v, %v; want nothing_held", r, err)
	}
	var detail map[string]string
	v.view(func(txn kvReader) error {
		item, err := txn.Get(auditKey(1))
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			var e auditEntry
			err := json.Unmarshal(b, &e)
			detail = e.Detail
			return err
		})
	})
	if detail["outcome"] != MoveRefused {
		t.Errorf("first audit entry detail = %v, want outcome %s", detail, MoveRefused)
	}
}

func noticeRefs(t *testing.T, v *Vault, c *clock) map[string]string {
	t.Helper()
	due, err := v.DueNotices(c.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for _, n := range due {
		refs[n.Ref] = n.Flow + "/" + n.Integration + ":" + n.Event
	}
	return refs
}

// TestMoveCarriesRecipientsAndTellsThemNothing: a number change is not an
// erasure request. The recipient records move with the data, no erasure
// notice goes out, and a later erasure on the new number reaches the
// recipient under the reference it was sent data under (the old number's)
// as well as the new one.
func TestMoveCarriesRecipientsAndTellsThemNothing(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	old := fillSubject(t, v, c)
	if err := v.Commit(old, Change{Sent: []Recipient{crmRecipient()}}); err != nil {
		t.Fatal(err)
	}
	to := v.SubjectID("whatsapp", "wa-new-number-5550002")
	r, err := v.Move(old, to, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != MoveMoved || r.Recipients != 1 || len(r.Erasure.Notices) != 0 {
		t.Fatalf("Move = %+v, want moved with 1 recipient and no erasure notice", r)
	}
	if refs := noticeRefs(t, v, c); len(refs) != 0 {
		t.Fatalf("a number change queued notices %v, want none", refs)
	}
	rs, err := v.Recipients(to, c.Now())
	if err != nil || len(rs) != 1 || rs[0].Integration != "crm" || !slices.Equal(rs[0].FormerRefs, []string{v.RecipientRef(old, "dental", "crm")}) {
		t.Fatalf("recipients of the new subject = %+v, %v; want crm carrying the old reference", rs, err)
	}

	c.Add(time.Minute)
	er, err := v.Erase(to, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := events(er.Notices); got != "dental/crm:erase,dental/crm:erase" {
		t.Errorf("erasure on the new number notified %q, want crm twice (old and new reference)", got)
	}
	want := map[string]string{v.RecipientRef(old, "dental", "crm"): "dental/crm:erase", v.RecipientRef(to, "dental", "crm"): "dental/crm:erase"}
	if refs := noticeRefs(t, v, c); !maps.Equal(refs, want) {
		t.Errorf("queued notices by reference = %v, want %v", refs, want)
	}
}

// TestRefusedMoveNotifiesOnlyOnce: when the new number already holds data
// the old subject is erased and its recipients are told (nothing could reach
// them later); a move repeated after a crash between copy and erasure finds
// the references already carried and tells nobody.
func TestRefusedMoveNotifiesOnlyOnce(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	old := fillSubject(t, v, c)
	if err := v.Commit(old, Change{Sent: []Recipient{crmRecipient()}}); err != nil {
		t.Fatal(err)
	}
	to := v.SubjectID("whatsapp", "wa-reassigned-number-2")
	if err := v.Commit(to, Change{State: []byte("someone else's conversation")}); err != nil {
		t.Fatal(err)
	}
	r, err := v.Move(old, to, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != MoveRefused || events(r.Erasure.Notices) != "dental/crm:erase" {
		t.Fatalf("refused Move = %+v, want the old subject's crm told of the erasure", r)
	}
	if refs := noticeRefs(t, v, c); refs[v.RecipientRef(old, "dental", "crm")] != "dental/crm:erase" || len(refs) != 1 {
		t.Errorf("queued notices = %v, want one to crm under the old reference", refs)
	}

	// The crash: the copy committed, the erasure did not.
	old2 := v.SubjectID("whatsapp", "wa-crashing-number")
	if err := v.Commit(old2, bookingChange(c)); err != nil {
		t.Fatal(err)
	}
	if err := v.Commit(old2, Change{Sent: []Recipient{crmRecipient()}}); err != nil {
		t.Fatal(err)
	}
	to2 := v.SubjectID("whatsapp", "wa-crashing-number-new")
	var half MoveResult
	var fresh, carried bool
	if err := v.update(func(txn kvTxn) error { return v.moveTxn(txn, old2, to2, "", "", c.Now(), &half, &fresh, &carried) }); err != nil {
		t.Fatal(err)
	}
	if half.Outcome != MoveMoved {
		t.Fatalf("half move = %+v, want moved", half)
	}
	r, err = v.Move(old2, to2, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != MoveRefused || len(r.Erasure.Notices) != 0 || !r.Erasure.KeyDestroyed {
		t.Errorf("repeated Move = %+v, want refused, the old key destroyed and no notice", r)
	}
	if refs := noticeRefs(t, v, c); len(refs) != 1 {
		t.Errorf("queued notices after the repeated move = %v, want only the first test's one", refs)
	}
}

// TestMoveReaddressesRemindersAndContacts: a number change moves the
// customer's scheduled reminder and broadcast contact on the channel to the
// new subject, addressed to the new number (never the old one, which may go
// to someone else); one on another channel is shredded with the old
// subject, and so is everything when no new address is known (Move).
func TestMoveReaddressesRemindersAndContacts(t *testing.T) {
	for _, withAddr := range []bool{true, false} {
		c := newClock()
		v := openMem(t, c)
		const oldNum, newNum = "15550007001", "15550007002"
		old := v.SubjectID("whatsapp", oldNum)
		to := v.SubjectID("whatsapp", newNum)
		at := c.Now().Add(48 * time.Hour)
		rm := Reminder{Purpose: "booking", Flow: "dental", Template: "appointment_reminder",
			At: at, Until: at.Add(ReminderGrace), Channel: "whatsapp", To: oldNum}
		web := rm
		web.Flow, web.Channel, web.To = "dental_web", "web", "browser-1"
		ch := Change{
			Consents: []ConsentRecord{{Purpose: "newsletter", Granted: true, At: c.Now(), Flow: "news"}},
			Remind:   []Reminder{rm, web},
			Contacts: []Contact{{Purpose: "newsletter", Flow: "news", Channel: "whatsapp", To: oldNum,
				Granted: c.Now(), Until: c.Now().Add(365 * day)}},
		}
		if err := v.Commit(old, ch); err != nil {
			t.Fatal(err)
		}
		var r MoveResult
		var err error
		if withAddr {
			r, err = v.MoveTo(old, to, "whatsapp", newNum, c.Now())
		} else {
			r, err = v.Move(old, to, c.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Add(48 * time.Hour)
		due, err := v.DueReminders(c.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		contacts, err := v.Contacts("news", "newsletter", c.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !withAddr {
			if len(due)+len(contacts) != 0 || r.Reminders+r.Contacts != 0 {
				t.Errorf("Move without the new address kept reminders %+v and contacts %+v (result %+v): they would go to the old number",
					due, contacts, r)
			}
			continue
		}
		if r.Outcome != MoveMoved || r.Reminders != 1 || r.Contacts != 1 {
			t.Errorf("MoveTo = %+v, want moved with 1 reminder and 1 contact", r)
		}
		if len(due) != 1 || due[0].Subject != to || due[0].To != newNum || due[0].Channel != "whatsapp" || !due[0].At.Equal(at) {
			t.Errorf("due reminders after the move = %+v, want the WhatsApp one for the new subject at the new number", due)
		}
		if len(contacts) != 1 || contacts[0].Subject != to || contacts[0].To != newNum {
			t.Errorf("newsletter contacts after the move = %+v, want the new subject at the new number", contacts)
		}
	}
}
