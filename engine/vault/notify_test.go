package vault

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	sbadger "github.com/parleyhq/parley/engine/store/badger"
)

func crmRecipient() Recipient {
	return Recipient{Flow: "dental", Integration: "crm", Purpose: "triage", SecretEnv: "CRM_TOKEN",
		OnErase: "https://crm.example.test/erase", OnStop: "https://crm.example.test/stop"}
}

// sentChange is bookingChange plus a call to crm and to a mailer that
// declares no notice addresses.
func sentChange(c *clock) Change {
	ch := bookingChange(c)
	ch.Sent = []Recipient{crmRecipient(), {Flow: "dental", Integration: "mailer", Purpose: "booking"}}
	return ch
}

func events(ns []SentNotice) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Flow+"/"+n.Integration+":"+n.Event)
	}
	return strings.Join(out, ",")
}

// TestStopNoticesOnlyForNewData: STOP tells the recipients that declared
// on_stop, once; it tells them again only after they were sent new data, and
// a consent withdrawal tells only the recipients of that purpose.
func TestStopNoticesOnlyForNewData(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[3])
	if err := v.Commit(s, sentChange(c)); err != nil {
		t.Fatal(err)
	}
	rs, err := v.Recipients(s, c.Now())
	if err != nil || len(rs) != 2 || rs[0].Integration != "crm" || rs[1].Integration != "mailer" || !rs[0].FirstSent.Equal(c.Now()) {
		t.Fatalf("Recipients = %+v, %v; want crm and mailer, sent now", rs, err)
	}
	step := func(ch Change, want string) {
		t.Helper()
		c.Add(time.Minute)
		if err := v.Commit(s, ch); err != nil {
			t.Fatal(err)
		}
		rs, err := v.Recipients(s, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		var all []SentNotice
		for _, r := range rs {
			all = append(all, r.Notices...)
		}
		if got := events(all); got != want {
			t.Errorf("notices %q, want %q", got, want)
		}
	}
	step(Change{Withdrawn: []string{"booking"}}, "")                   // crm is for triage
	step(Change{Stop: true}, "dental/crm:stop")                        // mailer has no on_stop
	step(Change{Stop: true}, "dental/crm:stop")                        // nothing sent since
	step(Change{Sent: []Recipient{crmRecipient()}}, "dental/crm:stop") // new data, no stop yet
	step(Change{Withdrawn: []string{"triage"}}, "dental/crm:stop,dental/crm:stop")
	due, err := v.DueNotices(c.Now(), 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("DueNotices = %d, %v; want 2", len(due), err)
	}
	for _, n := range due {
		if n.Event != NoticeStop || n.URL != "https://crm.example.test/stop" || n.SecretEnv != "CRM_TOKEN" || n.Ref != v.RecipientRef(s, "dental", "crm") {
			t.Errorf("queued notice %+v", n)
		}
	}
	if due[0].Receipt == due[1].Receipt {
		t.Error("two notices share a receipt id")
	}
	if v.RecipientRef(s, "dental", "crm") == v.RecipientRef(s, "dental", "mailer") ||
		v.RecipientRef(s, "dental", "crm") == v.RecipientRef(s, "other", "crm") {
		t.Error("recipient references are the same across integrations or flows")
	}
}

// TestErasureNoticesSurviveTheSubjectAndHoldNoPersonalData is the attack:
// with the data directory and the master key, read every version of every
// key, open every queued notice, and look for the subject's data. The
// recipient records die with the subject; the notices outlive it and hold
// only the recipient's own reference.
func TestErasureNoticesSurviveTheSubjectAndHoldNoPersonalData(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[3])
	if err := v.Commit(s, sentChange(c)); err != nil {
		t.Fatal(err)
	}
	if err := v.Commit(s, Change{Stop: true}); err != nil {
		t.Fatal(err)
	}
	r, err := v.Erase(s, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := events(r.Notices); got != "dental/crm:erase" {
		t.Fatalf("erasure receipt notices %q, want dental/crm:erase", got)
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	if n := rawVersions(t, v, prefixR(s), false); n != 0 {
		t.Errorf("%d versions of recipient records remain after the purge", n)
	}
	due, err := v.DueNotices(c.Now(), 10)
	if err != nil || len(due) != 2 || due[0].Receipt != r.Notices[0].Receipt && due[1].Receipt != r.Notices[0].Receipt {
		t.Fatalf("DueNotices after erasure = %+v, %v; want the stop and the erasure notice", due, err)
	}
	opened := 0
	err = v.bdb.ScanVersions(context.Background(), prefixNQ, func(ver sbadger.Version) error {
		k, val := ver.Key, ver.Value
		if len(val) == 0 {
			return nil
		}
		pt, err := open(v.meta, val, k)
		if err != nil {
			t.Errorf("notice %q does not open with the master key: %v", k, err)
			return nil
		}
		opened++
		assertBytesClean(t, "notice", pt)
		if bytes.Contains(pt, []byte(s)) {
			t.Error("a queued notice holds the subject id")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if opened < 2 {
		t.Errorf("opened %d notice versions, want at least 2", opened)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoCanaries(t, dir)
}

// TestNoticeRetriesThenGivesUp: a failed delivery waits a doubling backoff;
// after NoticeGiveUp the notice is dropped; a delivered one leaves at once.
func TestNoticeRetriesThenGivesUp(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[3])
	if err := v.Commit(s, sentChange(c)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Erase(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.NoticesQueued():
	default:
		t.Error("erasure queued a notice without waking the deliverer")
	}
	due := func() []Notice {
		t.Helper()
		ns, err := v.DueNotices(c.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	ns := due()
	if len(ns) != 1 {
		t.Fatalf("%d notices due, want 1", len(ns))
	}
	for _, wait := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute} {
		if gaveUp, err := v.NoticeFailed(ns[0], c.Now()); err != nil || gaveUp {
			t.Fatalf("NoticeFailed = %t, %v", gaveUp, err)
		}
		c.Add(wait - time.Second)
		if len(due()) != 0 {
			t.Fatalf("notice due again before its %s backoff", wait)
		}
		c.Add(time.Second)
		if ns = due(); len(ns) != 1 {
			t.Fatalf("notice not due after its %s backoff", wait)
		}
	}
	c.Add(NoticeGiveUp)
	if gaveUp, err := v.NoticeFailed(ns[0], c.Now()); err != nil || !gaveUp {
		t.Fatalf("NoticeFailed after %s = %t, %v; want given up", NoticeGiveUp, gaveUp, err)
	}
	c.Add(24 * time.Hour)
	if len(due()) != 0 {
		t.Error("a given-up notice is still queued")
	}

	s2 := v.SubjectID("whatsapp", "another")
	if err := v.Commit(s2, Change{State: []byte("x"), Sent: []Recipient{crmRecipient()}, Stop: true}); err != nil {
		t.Fatal(err)
	}
	if ns = due(); len(ns) != 1 {
		t.Fatalf("%d notices due, want the stop notice", len(ns))
	}
	if err := v.NoticeDelivered(ns[0].Receipt); err != nil {
		t.Fatal(err)
	}
	if len(due()) != 0 {
		t.Error("a delivered notice is still queued")
	}
}

// TestRecipientRecordsWithoutFormerRefsStillDecode: records written before
// FormerRefs existed end after the notices; they decode with none, and a
// record with former references keeps them.
func TestRecipientRecordsWithoutFormerRefsStillDecode(t *testing.T) {
	r := crmRecipient()
	r.Notices = []SentNotice{{Flow: r.Flow, Integration: r.Integration, Event: NoticeStop, Receipt: "abc"}}
	b := encodeRecipient(&r)
	old := b[:len(b)-1] // without the trailing count of zero former references
	got, err := decodeRecipient(old)
	if err != nil || got.OnErase != r.OnErase || len(got.Notices) != 1 || got.FormerRefs != nil {
		t.Errorf("decode of a record without former references = %+v, %v", got, err)
	}
	r.FormerRefs = []string{"ref-one", "ref-two"}
	got, err = decodeRecipient(encodeRecipient(&r))
	if err != nil || !slices.Equal(got.FormerRefs, r.FormerRefs) {
		t.Errorf("former references decoded as %v, %v; want %v", got.FormerRefs, err, r.FormerRefs)
	}
}
