package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// The vault's backend-neutral tests run twice: on Badger (as written) and,
// here, on PostgreSQL, each on a fresh database of the private cluster
// pgtest starts. Without PostgreSQL binaries they skip, unless
// PARLEY_POSTGRES_TESTS=required.

func TestMain(m *testing.M) { pgtest.Main(m) }

// onPostgres makes openMem open its vault on PostgreSQL.
var onPostgres bool

// pgStore opens a store on a fresh database, on the test's clock, closed
// at the end of the test (after the vault, which the caller closes first).
func pgStore(t testing.TB, c *clock) store.Store {
	t.Helper()
	return pgOpen(t, pgtest.URL(t), c)
}

// pgOpen opens a store on the database url (one instance's connection pool).
func pgOpen(t testing.TB, url string, c *clock) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{URL: url, Now: c.Now})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPG opens a vault on the store of database url.
func openPG(t testing.TB, url string, c *clock) (*Vault, store.Store) {
	t.Helper()
	st := pgOpen(t, url, c)
	v, err := Open(Options{Store: st, MasterKey: testKey(1), Now: c.Now, PurgeDelay: -1})
	if err != nil {
		t.Fatalf("Open(postgres) = %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v, st
}

// recordOf returns the value of key as the vault's backend holds it and its
// expiry there, in Unix nanoseconds (Badger's TTL has whole seconds).
func recordOf(t testing.TB, v *Vault, key []byte) (val []byte, exp uint64) {
	t.Helper()
	err := v.st.View(context.Background(), func(r store.Reader) error {
		rec, err := r.Get(key)
		if !rec.ExpiresAt.IsZero() {
			exp = uint64(rec.ExpiresAt.UnixNano())
		}
		val = rec.Value
		return err
	})
	if err != nil {
		t.Fatalf("reading %q from the backend: %v", key, err)
	}
	return val, exp
}

// backendNeutral are the tests that run on every backend: they open their
// vaults with openMem and judge only what the vault's API returns.
var backendNeutral = []struct {
	name string
	fn   func(*testing.T)
}{
	{"CommitThenLoadSubject", TestCommitThenLoadSubject},
	{"Rectify", TestRectify},
	{"ExportHasConsentHistory", TestExportHasConsentHistory},
	{"OutboxLifecycle", TestOutboxLifecycle},
	{"ConcurrentTurnsAndErasures", TestConcurrentTurnsAndErasures},
	{"AuditEntriesAreNeverBackdated", TestAuditEntriesAreNeverBackdated},
	{"StopNoticesOnlyForNewData", TestStopNoticesOnlyForNewData},
	{"ReminderIsDueOnceAndQueuedWithItsMessage", TestReminderIsDueOnceAndQueuedWithItsMessage},
	{"RemindersCancelledByStopWithdrawalAndLateness", TestRemindersCancelledByStopWithdrawalAndLateness},
	{"ContactsFollowTheConsent", TestContactsFollowTheConsent},
	{"BroadcastRunsOnceAtATime", TestBroadcastRunsOnceAtATime},
	{"NoticeRetriesThenGivesUp", TestNoticeRetriesThenGivesUp},
	{"OutboxAckKeepsStatusesThatNeverRegress", TestOutboxAckKeepsStatusesThatNeverRegress},
	{"AuditChainDetectsTampering", TestAuditChainDetectsTampering},
	{"ValuesCannotBeSwappedBetweenKeys", TestValuesCannotBeSwappedBetweenKeys},
	{"WrongKeyInMemoryCheck", TestWrongKeyInMemoryCheck},
	{"SweepSubjectOnEveryBackend", TestSweepSubjectOnEveryBackend},
	{"StaffRecordsRoundTrip", TestStaffRecordsRoundTrip},
	{"IncidentRecordsAreNumberedNotifiedOnceAndSwept", TestIncidentRecordsAreNumberedNotifiedOnceAndSwept},
	{"IncidentNotifyQueuesTheAffected", TestIncidentNotifyQueuesTheAffected},
	{"IncidentNotifyInBatchesResumes", TestIncidentNotifyInBatchesResumes},
	{"HandoffQueueAndNotice", TestHandoffQueueAndNotice},
}

func TestOnPostgres(t *testing.T) {
	pgtest.URL(t) // skips (or fails) here when there is no PostgreSQL
	onPostgres = true
	t.Cleanup(func() { onPostgres = false })
	for _, tc := range backendNeutral {
		t.Run(tc.name, tc.fn)
	}
}

// TestPostgresErasureAndExpiryLeaveNothing is the attacker test on
// PostgreSQL: someone with the cluster's data directory and the master key,
// after an erasure and a field's expiry, purge and CHECKPOINT, finds no
// canary in the raw files, none of the sealed values that held them (so
// nothing left to decrypt, whatever keys they hold), and nothing readable
// through every record and transient key the database still holds. The
// erasure ledger and the audit chain are kept and verify.
func TestPostgresErasureAndExpiryLeaveNothing(t *testing.T) {
	c := newClock()
	url := pgtest.URL(t)
	v, st := openPG(t, url, c)
	s := fillSubject(t, v, c)
	keep := v.SubjectID("whatsapp", "someone-else")
	err := v.Commit(keep, Change{State: []byte("other"), Put: []FieldRecord{{Name: "email", Value: []byte(canaries[1]),
		Purpose: "booking", Basis: "contract", CollectedAt: c.Now(), ExpiresAt: c.Now().Add(day)}}})
	if err != nil {
		t.Fatal(err)
	}
	// The sealed values that must go: everything of s, keep's field, the
	// inbox and outbox payloads.
	var sealed [][]byte
	goes := append(subjectPrefixes(s), prefixF(keep), prefixIQ, prefixOut)
	err = st.View(context.Background(), func(r store.Reader) error {
		for _, p := range goes {
			err := r.Scan(p, func(rec store.Record) error {
				if len(rec.Value) >= 40 {
					sealed = append(sealed, rec.Value[len(rec.Value)-24:]) // the tag and the end of the ciphertext
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(sealed) < 6 {
		t.Fatalf("sealed values read = %d, %v; want the state, 3 fields, a consent, inbox, outbox and keep's field", len(sealed), err)
	}
	if rec, err := AttackerViewStore(st, testKey(1)); err != nil || !rec.Contains([]byte(canaries[4])) {
		t.Fatalf("before the erasure the attacker view reads no canary (%v): the check below could not fail", err)
	}
	if !containsAny(pgtest.Raw(t, url), sealed) {
		t.Fatal("before the erasure the raw files hold none of the sealed values: the scan below could not fail")
	}

	r, err := v.Erase(s, c.Now())
	if err != nil || !r.KeyDestroyed {
		t.Fatalf("Erase = %+v, %v", r, err)
	}
	for _, action := range []string{"subject.erase", "sweep"} {
		if err := v.Audit("test", action, string(s), nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(2 * day)
	if _, err := v.Sweep(c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	if ex, err := v.Export(s, c.Now()); err != nil || ex.State != nil || len(ex.Fields)+len(ex.Consents) != 0 {
		t.Errorf("Export after Erase = %+v, %v; want empty", ex, err)
	}
	if state, fields, err := v.LoadSubject(keep, c.Now()); err != nil || string(state) != "other" || len(fields) != 0 {
		t.Errorf("keep after expiry = %q, %d fields, %v; want its state and no field", state, len(fields), err)
	}
	if n, err := v.AuditVerify(); err != nil || n != 2 {
		t.Errorf("AuditVerify = %d, %v; want 2 entries", n, err)
	}
	err = st.View(context.Background(), func(r store.Reader) error { _, err := r.Get(keyE(s)); return err })
	if err != nil {
		t.Errorf("erasure ledger entry of s: %v", err)
	}

	rec, err := AttackerViewStore(st, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range canaries {
		for _, n := range needles(c) {
			if rec.Contains([]byte(n)) {
				t.Errorf("the attacker reads %q from the database's records", c)
			}
		}
	}
	raw := pgtest.Raw(t, url)
	assertBytesClean(t, "postgres data files", raw)
	for i, b := range sealed {
		if bytes.Contains(raw, b) {
			t.Errorf("sealed value %d is still in the raw files after erasure, expiry and purge", i)
		}
	}
}

func containsAny(b []byte, parts [][]byte) bool {
	for _, p := range parts {
		if bytes.Contains(b, p) {
			return true
		}
	}
	return false
}

// TestPostgresSecondInstanceSharesEverything: two vaults on one database
// (two connection pools, as two instances): an inbound message one puts is
// readable by the other (the transient keys are shared), an erasure one
// makes holds for the other, and sequences never collide.
func TestPostgresSecondInstanceSharesEverything(t *testing.T) {
	c := newClock()
	url := pgtest.URL(t)
	a, _ := openPG(t, url, c)
	s := a.SubjectID("whatsapp", canaries[3])
	if err := a.Commit(s, bookingChange(c)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.InboxPut("wamid.A1", s, []byte(canaries[4]), c.Now()); err != nil {
		t.Fatal(err)
	}
	b, _ := openPG(t, url, c)
	in, err := b.InboxPending()
	if err != nil || len(in) != 1 || string(in[0].Payload) != canaries[4] {
		t.Fatalf("second instance InboxPending = %+v, %v; want the message put by the first", in, err)
	}
	seen := map[uint64]bool{}
	for i := range 20 {
		v := []*Vault{a, b}[i%2]
		seq, err := v.OutboxPut(s, []byte("reply"))
		if err != nil || seen[seq] {
			t.Fatalf("OutboxPut #%d = %d, %v (seen before: %v)", i, seq, err, seen[seq])
		}
		seen[seq] = true
	}
	// A key the first instance makes after the second opened (the period
	// passed) is found by the second too.
	c.Add(a.opts.TransientKeyPeriod + time.Minute)
	if _, err := a.OutboxPut(s, []byte(canaries[0])); err != nil {
		t.Fatal(err)
	}
	out, err := b.OutboxPending()
	found := false
	for _, o := range out {
		found = found || string(o.Payload) == canaries[0]
	}
	if err != nil || !found {
		t.Fatalf("second instance OutboxPending = %d entries, %v; want the reply sealed under the first's new transient key", len(out), err)
	}
	if _, err := b.Erase(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	if st, fields, err := a.LoadSubject(s, c.Now()); err != nil || st != nil || len(fields) != 0 {
		t.Errorf("first instance after the second erased = %q, %d fields, %v; want nothing", st, len(fields), err)
	}
	if in, _ := a.InboxPending(); len(in) != 0 {
		t.Errorf("first instance inbox after erasure = %d entries, want 0", len(in))
	}
}

// TestPostgresConcurrentTurnsOnASmallPool: sixteen goroutines commit turns
// with replies and consent records through a pool of two connections, with
// sequence blocks of three numbers, so blocks run out all the time. A turn
// that leased a block inside its transaction would wait for a connection
// the other turns hold, for good; the numbers reserved before the
// transaction avoid that. Every sequence number is unique.
func TestPostgresConcurrentTurnsOnASmallPool(t *testing.T) {
	defer func(n uint64) { seqBlockSize = n }(seqBlockSize)
	seqBlockSize = 3
	c := newClock()
	st, err := postgres.Open(context.Background(), postgres.Options{URL: pgtest.URL(t), Now: c.Now, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := Open(Options{Store: st, MasterKey: testKey(1), Now: c.Now, PurgeDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	var mu sync.Mutex
	seen := map[uint64]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				s := v.SubjectID("whatsapp", fmt.Sprint("small-pool-", g))
				for i := range 5 {
					ch := Change{State: []byte("x"), Outbox: [][]byte{[]byte("a"), []byte("b")},
						Consents: []ConsentRecord{{Purpose: "triage", Granted: i%2 == 0, At: c.Now(), MessageID: fmt.Sprint("m", i)}}}
					seqs, err := v.CommitTurn(s, ch)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, n := range seqs {
						if seen[n] {
							t.Errorf("outbox seq %d handed out twice", n)
						}
						seen[n] = true
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		// Not t.Fatal: the cleanup would wait for the stuck turns too.
		panic("16 concurrent turns on a pool of 2 connections did not finish in 60s: they wait for each other's connections")
	}
	if len(seen) != 16*5*2 {
		t.Errorf("%d distinct outbox seqs, want %d", len(seen), 16*5*2)
	}
}

// TestPostgresSweepDeletesWhatOnlyATTLBounds: a delivery-status record
// (kept for the dedupe window by its expiry alone) is deleted from the
// database by the sweep after the window; on Badger its TTL does that.
// Control: without the sweep, the store still holds it, expired.
func TestPostgresSweepDeletesWhatOnlyATTLBounds(t *testing.T) {
	for _, sweep := range []bool{false, true} {
		c := newClock()
		v, st := openPG(t, pgtest.URL(t), c)
		s := v.SubjectID("whatsapp", canaries[2])
		seq, err := v.OutboxPut(s, []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.OutboxAckMany([]OutboxAck{{Seq: seq, Subject: s, ChannelMsgID: "whatsapp\x00wamid.TTL"}}); err != nil {
			t.Fatal(err)
		}
		c.Add(v.opts.DedupeWindow + day)
		if sweep {
			if _, err := v.Sweep(c.Now()); err != nil {
				t.Fatal(err)
			}
		}
		left, err := st.DeleteExpired(context.Background(), []byte("ow/"))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{false: 1, true: 0}[sweep]; len(left) != want {
			t.Errorf("sweep=%v: %d expired status records still in the database, want %d", sweep, len(left), want)
		}
	}
}

// TestPostgresWrongKeyIsRefused: PostgreSQL has no encryption key of its
// own to check, so the vault's key check record is the only line of
// defence: a vault opened with another master key on the same database is
// refused with ErrWrongKey and changes nothing; the right key still opens.
func TestPostgresWrongKeyIsRefused(t *testing.T) {
	c := newClock()
	url := pgtest.URL(t)
	v, _ := openPG(t, url, c)
	s := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(s, Change{State: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	v.Close()
	st := pgOpen(t, url, c)
	if w, err := Open(Options{Store: st, MasterKey: testKey(2), Now: c.Now, PurgeDelay: -1}); !errors.Is(err, ErrWrongKey) {
		if w != nil {
			w.Close()
		}
		t.Fatalf("Open with another master key = %v, want ErrWrongKey", err)
	}
	again, _ := openPG(t, url, c)
	if state, _, err := again.LoadSubject(s, c.Now()); err != nil || string(state) != "kept" {
		t.Errorf("with the right key after the refusal: %q, %v", state, err)
	}
}
