package vault

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fixtureDir is a data directory written by the vault before it moved onto
// engine/store/badger (commit 4fa70cb, its own Badger code): the vault must
// keep opening directories of that layout as they are.
const fixtureDir = "testdata/datadir-v1"

// fixtureLife is how long the fixture's records live (Badger's TTL
// backstops are set by the wall clock when they are written).
const fixtureLife = 50 * 365 * day

// fixtureClock is the clock the fixture was written with.
func fixtureClock() *clock { return &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)} }

// writeFixture writes the fixture's content: Ann with fields, a consent, a
// state and a queued reply; a pending inbound message of Ann; Bob erased.
func writeFixture(t *testing.T, dir string) {
	c := fixtureClock()
	o := diskOpts(dir, c)
	o.DedupeWindow = fixtureLife // Badger TTLs run on the wall clock: the fixture must outlive its tests
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ann := v.SubjectID("whatsapp", canaries[2])
	put := bookingChange(c).Put
	for i := range put {
		put[i].ExpiresAt = c.Now().Add(fixtureLife)
	}
	if _, err := v.CommitTurn(ann, Change{State: []byte("step=ask_email"), StateKeep: fixtureLife, Put: put,
		Consents: bookingChange(c).Consents, Outbox: [][]byte{[]byte("reply to " + canaries[0])}}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.InboxPut("wamid.PENDING1", ann, []byte(canaries[4]), c.Now()); err != nil {
		t.Fatal(err)
	}
	bob := v.SubjectID("whatsapp", "+447700900999")
	if err := v.Commit(bob, Change{Put: []FieldRecord{{Name: "name", Value: []byte("Bob Erasedfixture"), Purpose: "booking",
		Basis: "contract", CollectedAt: c.Now(), ExpiresAt: c.Now().Add(fixtureLife)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Erase(bob, c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWriteFixture regenerates testdata/datadir-v1 when
// PARLEY_WRITE_FIXTURE=1 (run once, with the code of the layout it pins).
func TestWriteFixture(t *testing.T) {
	if os.Getenv("PARLEY_WRITE_FIXTURE") != "1" {
		t.Skip("set PARLEY_WRITE_FIXTURE=1 to rewrite " + fixtureDir)
	}
	if err := os.RemoveAll(fixtureDir); err != nil {
		t.Fatal(err)
	}
	writeFixture(t, fixtureDir)
}

// copyDir copies the fixture so that a test never changes the committed one.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// TestOpensADataDirectoryOfTheOldLayout opens a copy of the fixture: Ann's
// fields, consent, state, queued reply and pending inbound message read
// back; Bob stays erased; new writes go on; and the attacker holding the
// directory and the master key finds no Bob.
func TestOpensADataDirectoryOfTheOldLayout(t *testing.T) {
	dir := copyDir(t, fixtureDir)
	c := fixtureClock()
	c.Add(time.Hour)
	v := openDisk(t, dir, c)
	ann := v.SubjectID("whatsapp", canaries[2])
	state, fields, err := v.LoadSubject(ann, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(state) != "step=ask_email" || len(fields) != 3 || string(fields[1].Value) != canaries[0] {
		t.Fatalf("Ann read back as state %q, fields %v; want the fixture's", state, fieldNames(fields))
	}
	out, err := v.OutboxPending()
	if err != nil || len(out) != 1 || !bytes.Contains(out[0].Payload, []byte(canaries[0])) {
		t.Fatalf("OutboxPending = %d entries, %v; want the fixture's reply", len(out), err)
	}
	in, err := v.InboxPending()
	if err != nil || len(in) != 1 || string(in[0].Payload) != canaries[4] {
		t.Fatalf("InboxPending = %d entries, %v; want the fixture's message", len(in), err)
	}
	ex, err := v.Export(ann, c.Now())
	if err != nil || len(ex.Consents) != 1 {
		t.Fatalf("Export consents = %+v, %v; want the fixture's one", ex.Consents, err)
	}
	bob := v.SubjectID("whatsapp", "+447700900999")
	if _, bf, err := v.LoadSubject(bob, c.Now()); err != nil || len(bf) != 0 {
		t.Fatalf("erased Bob read back %d fields (%v)", len(bf), err)
	}
	if _, err := v.CommitTurn(ann, Change{State: []byte("step=done"), InboxDone: "wamid.PENDING1"}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v = openDisk(t, dir, c)
	if state, _, err = v.LoadSubject(ann, c.Now()); err != nil || string(state) != "step=done" {
		t.Fatalf("after reopening: state %q, %v", state, err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err := AttackerView(dir, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Contains([]byte("Bob Erasedfixture")) {
		t.Error("the attacker reads erased Bob's name in the fixture's files")
	}
	if !rec.Contains([]byte(canaries[0])) {
		t.Error("the attacker view misses Ann's live name: it reads nothing (control)")
	}
}

// testdata/backup-v1.pvb and backup-v1.erasures.log were written by the
// code of commit cca970f (the vault's own Badger code), from a copy of the
// fixture opened at fixtureClock, with v.Backup and the ledger file beside
// it: `git archive cca970f`, a test calling Backup, run once.

// TestRestoresABackupOfTheOldLayout restores testdata/backup-v1.pvb, a
// backup the vault's former Badger code made of the fixture, with the
// erasure ledger kept beside it: Ann reads back, Bob stays erased, and the
// attacker with the restored directory and the master key finds no Bob.
func TestRestoresABackupOfTheOldLayout(t *testing.T) {
	dir := t.TempDir()
	ledger, err := os.ReadFile("testdata/backup-v1.erasures.log")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ledgerName), ledger, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/backup-v1.pvb")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := fixtureClock()
	c.Add(time.Hour)
	if err := Restore(diskOpts(dir, c), f); err != nil {
		t.Fatalf("Restore(old backup) = %v", err)
	}
	v := openDisk(t, dir, c)
	ann := v.SubjectID("whatsapp", canaries[2])
	state, fields, err := v.LoadSubject(ann, c.Now())
	if err != nil || string(state) != "step=ask_email" || len(fields) != 3 {
		t.Fatalf("Ann after the restore: state %q, fields %v, %v", state, fieldNames(fields), err)
	}
	if _, err := v.AuditVerify(); err != nil {
		t.Errorf("AuditVerify after restoring the old backup = %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err := AttackerView(dir, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Contains([]byte("Bob Erasedfixture")) {
		t.Error("the attacker reads erased Bob's name after the restore")
	}
	if !rec.Contains([]byte(canaries[0])) {
		t.Error("the attacker view misses Ann's restored name (control)")
	}
}
