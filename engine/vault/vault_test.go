package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	sbadger "github.com/parleyhq/parley/engine/store/badger"
)

const day = 24 * time.Hour

func bookingChange(c *clock) Change {
	now := c.Now()
	return Change{
		State: []byte("step=ask_email;name=" + canaries[0]),
		Put: []FieldRecord{
			{Name: "name", Value: []byte(canaries[0]), Purpose: "booking", Basis: "contract", CollectedAt: now, ExpiresAt: now.Add(90 * day), Flow: "dental", FlowVersion: 3},
			{Name: "email", Value: []byte(canaries[1]), Purpose: "booking", Basis: "contract", CollectedAt: now, ExpiresAt: now.Add(30 * day), Flow: "dental", FlowVersion: 3},
			{Name: "pain", Value: []byte(canaries[4]), Purpose: "triage", Basis: "consent", CollectedAt: now, Flow: "dental", FlowVersion: 3},
		},
		Consents: []ConsentRecord{{Purpose: "triage", Granted: true, At: now, Flow: "dental", FlowVersion: 3, NoticeHash: "abc123", MessageID: "wamid.CONSENT1"}},
	}
}

func fieldNames(fs []FieldRecord) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func TestCommitThenLoadSubject(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(s, bookingChange(c)); err != nil {
		t.Fatal(err)
	}
	state, fields, err := v.LoadSubject(s, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(state, []byte("ask_email")) {
		t.Errorf("state = %q, want the committed state", state)
	}
	if got := fieldNames(fields); len(got) != 3 || got[0] != "email" || got[1] != "name" || got[2] != "pain" {
		t.Errorf("fields = %v, want [email name pain]", got)
	}
	if string(fields[1].Value) != canaries[0] || fields[1].Purpose != "booking" || fields[1].FlowVersion != 3 {
		t.Errorf("name field = %+v", fields[1])
	}
	if !fields[2].ExpiresAt.IsZero() {
		t.Errorf("session field ExpiresAt = %v, want zero", fields[2].ExpiresAt)
	}
	// nil State keeps the state; EndSession drops session fields only.
	if err := v.Commit(s, Change{EndSession: true, Delete: []string{"email"}}); err != nil {
		t.Fatal(err)
	}
	state2, fields, err := v.LoadSubject(s, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state2, state) {
		t.Errorf("state after nil-State commit = %q, want %q", state2, state)
	}
	if got := fieldNames(fields); len(got) != 1 || got[0] != "name" {
		t.Errorf("fields after EndSession+Delete = %v, want [name]", got)
	}
	// An unknown subject is empty, not an error.
	other := v.SubjectID("whatsapp", "+15550000000")
	if st, fs, err := v.LoadSubject(other, c.Now()); err != nil || st != nil || fs != nil {
		t.Errorf("LoadSubject(unknown) = %q, %v, %v; want nil, nil, nil", st, fs, err)
	}
}

func TestSubjectIDIsStablePseudonym(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s1 := v.SubjectID("whatsapp", canaries[2])
	if len(s1) != 64 || bytes.Contains([]byte(s1), []byte("447700900123")) {
		t.Fatalf("SubjectID = %q, want 64 hex digits without the number", s1)
	}
	if s1 == v.SubjectID("web", canaries[2]) {
		t.Error("same user id on two channels gave the same subject id")
	}
	if got := s1.String(); len(got) > 20 || got == string(s1) {
		t.Errorf("String() = %q, want a short prefix", got)
	}
	v.Close()
	v = openDisk(t, dir, c)
	defer v.Close()
	if s2 := v.SubjectID("whatsapp", canaries[2]); s2 != s1 {
		t.Errorf("SubjectID after reopen = %v, want %v (pepper must persist)", s2, s1)
	}
}

func TestExpiryUsesStoredTimeAndSweepRemovesAllVersions(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	defer v.Close()
	s := v.SubjectID("whatsapp", canaries[2])
	t0 := c.Now()
	ch := Change{Put: []FieldRecord{
		{Name: "email", Value: []byte(canaries[1]), Purpose: "booking", CollectedAt: t0, ExpiresAt: t0.Add(30 * day)},
		{Name: "email2", Value: []byte("keep"), Purpose: "booking", CollectedAt: t0, ExpiresAt: t0.Add(90 * day)},
	}}
	if err := v.Commit(s, ch); err != nil {
		t.Fatal(err)
	}
	// A second version, so that AllVersions has something old to show.
	ch.Put = ch.Put[:1]
	if err := v.Commit(s, ch); err != nil {
		t.Fatal(err)
	}
	_, fields, _ := v.LoadSubject(s, t0.Add(29*day))
	if got := fieldNames(fields); len(got) != 2 {
		t.Errorf("fields at +29d = %v, want [email email2]", got)
	}
	_, fields, _ = v.LoadSubject(s, t0.Add(31*day))
	if got := fieldNames(fields); len(got) != 1 || got[0] != "email2" {
		t.Errorf("fields at +31d = %v, want [email2]", got)
	}
	st, err := v.Sweep(t0.Add(31 * day))
	if err != nil {
		t.Fatal(err)
	}
	if st.Expired != 1 {
		t.Errorf("Sweep expired = %d, want 1", st.Expired)
	}
	if n := rawVersions(t, v, keyF(s, "email"), true); n != 0 {
		t.Errorf("after Sweep, %d versions of the expired field remain (AllVersions)", n)
	}
	// The sibling whose name starts with the expired one survives the drop.
	_, fields, _ = v.LoadSubject(s, t0.Add(31*day))
	if got := fieldNames(fields); len(got) != 1 || got[0] != "email2" {
		t.Errorf("fields after Sweep = %v, want [email2]", got)
	}
}

// rawVersions counts every version of keys with the prefix (exact key when
// exact), deleted and expired ones included, as the main Badger database's
// files hold them.
func rawVersions(t *testing.T, v *Vault, prefix []byte, exact bool) int {
	t.Helper()
	n := 0
	err := v.bdb.ScanVersions(context.Background(), prefix, func(ver sbadger.Version) error {
		if !exact || bytes.Equal(ver.Key, prefix) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRectify(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(s, bookingChange(c)); err != nil {
		t.Fatal(err)
	}
	if err := v.Rectify(s, "email", []byte("fixed@example.test"), c.Now()); err != nil {
		t.Fatal(err)
	}
	ex, err := v.Export(s, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ex.Fields {
		if f.Name == "email" && (string(f.Value) != "fixed@example.test" || !f.ExpiresAt.Equal(c.Now().Add(30*day))) {
			t.Errorf("rectified email = %q expires %v", f.Value, f.ExpiresAt)
		}
	}
	if err := v.Rectify(s, "nosuch", []byte("x"), c.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rectify(missing) = %v, want ErrNotFound", err)
	}
	if err := v.Rectify(s, "email", []byte("x"), c.Now().Add(31*day)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rectify(expired) = %v, want ErrNotFound", err)
	}
}

func TestExportHasConsentHistory(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(s, bookingChange(c)); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	if err := v.Commit(s, Change{Consents: []ConsentRecord{{Purpose: "triage", Granted: false, At: c.Now(), MessageID: "wamid.STOP"}}}); err != nil {
		t.Fatal(err)
	}
	ex, err := v.Export(s, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Consents) != 2 || !ex.Consents[0].Granted || ex.Consents[1].Granted || ex.Consents[1].MessageID != "wamid.STOP" {
		t.Errorf("consents = %+v, want granted then withdrawn", ex.Consents)
	}
	if len(ex.Fields) != 3 || ex.State == nil {
		t.Errorf("export fields = %d state = %q", len(ex.Fields), ex.State)
	}
}

func TestValuesCannotBeSwappedBetweenKeys(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	a, b := v.SubjectID("whatsapp", "a"), v.SubjectID("whatsapp", "b")
	for _, s := range []SubjectID{a, b} {
		if err := v.Commit(s, bookingChange(c)); err != nil {
			t.Fatal(err)
		}
	}
	// Move a's sealed email over its own name field: same key, other path.
	err := v.update(func(txn kvTxn) error {
		item, err := txn.Get(keyF(a, "email"))
		if err != nil {
			return err
		}
		val, _ := item.ValueCopy(nil)
		return txn.Set(keyF(a, "name"), val)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.LoadSubject(a, c.Now()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadSubject after swapping values = %v, want ErrCorrupt", err)
	}
}

// TestSweepSubjectTouchesOnlyThatSubject: the studio sweeps its test user
// at a clock moved forward; a customer whose field is just as expired at
// that time keeps every version of it until the real sweep reaches it.
func TestSweepSubjectTouchesOnlyThatSubject(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	defer v.Close()
	studio := v.SubjectID("studio", "s1")
	customer := v.SubjectID("whatsapp", canaries[2])
	t0 := c.Now()
	for _, s := range []SubjectID{studio, customer} {
		ch := Change{Put: []FieldRecord{{Name: "email", Value: []byte(canaries[1]), Purpose: "booking", CollectedAt: t0, ExpiresAt: t0.Add(30 * day)}}}
		if err := v.Commit(s, ch); err != nil {
			t.Fatal(err)
		}
	}
	st, err := v.SweepSubject(studio, t0.Add(31*day))
	if err != nil {
		t.Fatal(err)
	}
	if st.Expired != 1 {
		t.Errorf("SweepSubject expired = %d, want 1", st.Expired)
	}
	if n := rawVersions(t, v, keyF(studio, "email"), true); n != 0 {
		t.Errorf("after SweepSubject, %d versions of the studio user's expired field remain", n)
	}
	if n := rawVersions(t, v, keyF(customer, "email"), true); n == 0 {
		t.Error("SweepSubject dropped another subject's field")
	}
}

// TestSweepSubjectOnEveryBackend: on each backend (it runs again on
// PostgreSQL in TestOnPostgres), SweepSubject drops the records of that
// subject's expired field and leaves another subject's equally expired
// field in the store.
func TestSweepSubjectOnEveryBackend(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	studio := v.SubjectID("studio", "s1")
	customer := v.SubjectID("whatsapp", canaries[2])
	t0 := c.Now()
	for _, s := range []SubjectID{studio, customer} {
		ch := Change{Put: []FieldRecord{{Name: "email", Value: []byte(canaries[1]), Purpose: "booking", CollectedAt: t0, ExpiresAt: t0.Add(30 * day)}}}
		if err := v.Commit(s, ch); err != nil {
			t.Fatal(err)
		}
	}
	records := func(s SubjectID) int {
		n := 0
		err := v.view(func(txn kvReader) error {
			return txn.Scan(prefixF(s), false, func([]byte, kvItem) error { n++; return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if records(studio) != 1 || records(customer) != 1 {
		t.Fatalf("before the sweep: %d and %d field records, want 1 and 1", records(studio), records(customer))
	}
	st, err := v.SweepSubject(studio, t0.Add(31*day))
	if err != nil {
		t.Fatal(err)
	}
	if st.Expired != 1 || records(studio) != 0 {
		t.Errorf("SweepSubject: expired %d, %d records left; want 1 and 0", st.Expired, records(studio))
	}
	if records(customer) != 1 {
		t.Error("SweepSubject dropped another subject's field")
	}
}
