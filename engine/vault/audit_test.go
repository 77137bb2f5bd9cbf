package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAuditAndLedgerRetention moves a fake clock past both retentions: the
// sweeper deletes the old audit entries and the old erasure from the store
// (every version, read back from the reopened files with the master key)
// and from erasures.log; the rest of the chain verifies from the anchor;
// deleting a young entry the same way fails; a backup older than the
// ledger retention is refused.
func TestAuditAndLedgerRetention(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := fillSubject(t, v, c)
	for range 3 {
		c.Add(time.Minute)
		if err := v.Audit("dpo@cli", "subject.export:ok", string(s), nil); err != nil {
			t.Fatal(err)
		}
	}
	var old bytes.Buffer
	if err := v.Backup(&old); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Erase(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	c.Add(400 * 24 * time.Hour)
	for range 2 {
		if err := v.Audit("dpo@cli", "subject.export:ok", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	ledgerPath := filepath.Join(dir, ledgerName)
	if b, _ := os.ReadFile(ledgerPath); !bytes.Contains(b, []byte(s)) {
		t.Fatalf("erasures.log lacks the erasure before the sweep: %q", b)
	}

	// One year in: nothing is old enough yet.
	if st, err := v.Sweep(c.Now()); err != nil || st.Audit != 0 || st.Ledger != 0 {
		t.Fatalf("Sweep one year in = %+v, %v; want nothing removed", st, err)
	}
	c.Add(400 * 24 * time.Hour) // past 2 years for the first entries only
	st, err := v.Sweep(c.Now())
	if err != nil || st.Audit != 3 || st.Ledger != 1 {
		t.Fatalf("Sweep = %+v, %v; want 3 audit entries and 1 erasure removed", st, err)
	}
	if n, err := v.AuditVerify(); n != 2 || err != nil {
		t.Errorf("AuditVerify after retention = %d, %v; want 2, nil", n, err)
	}
	if b, err := os.ReadFile(ledgerPath); err != nil || bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(`"backup"`)) {
		t.Errorf("erasures.log after retention = %q, %v; want the old erasure and backup mark gone", b, err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	// The attacker: the files reopened with the master key, every version.
	v = openDisk(t, dir, c)
	defer v.Close()
	for seq := uint64(1); seq <= 3; seq++ {
		if n := rawVersions(t, v, auditKey(seq), true); n != 0 {
			t.Errorf("audit entry %d: %d versions still in the files", seq, n)
		}
	}
	if n := rawVersions(t, v, keyE(s), true); n != 0 {
		t.Errorf("e/ entry of the old erasure: %d versions still in the files", n)
	}
	if n := rawVersions(t, v, auditKey(4), true); n != 1 {
		t.Errorf("young audit entry 4: %d versions, want it kept", n)
	}
	if n, err := v.AuditVerify(); n != 2 || err != nil {
		t.Errorf("AuditVerify after reopening = %d, %v; want 2, nil", n, err)
	}
	hf, ok, err := readAuditHeadFile(filepath.Join(dir, auditHeadName))
	if !ok || err != nil || hf.Anchor.Seq != 3 || hf.Head.Seq != 5 {
		t.Errorf("head file = %+v (%v, %v); want anchor 3, head 5", hf, ok, err)
	}

	// The backup from two years ago could bring the erased subject back:
	// the ledger no longer lists it.
	o := diskOpts(t.TempDir(), c)
	o.ErasureLog = ledgerPath
	if err := Restore(o, bytes.NewReader(old.Bytes())); !errors.Is(err, ErrBackupTooOld) {
		t.Errorf("Restore(backup older than the ledger retention) = %v, want ErrBackupTooOld", err)
	}

	// Deleting a young entry and moving the anchor by hand is caught.
	err = v.update(func(txn kvTxn) error {
		item, err := txn.Get(auditKey(4))
		if err != nil {
			return err
		}
		b, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		ab, _ := json.Marshal(auditMark{Seq: 4, Hash: hashHex(b)})
		if err := txn.Set(keyAuditAnchor, ab); err != nil {
			return err
		}
		return txn.Delete(auditKey(4))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.AuditVerify(); !errors.Is(err, ErrAuditTampered) {
		t.Errorf("AuditVerify after removing a young entry from the start = %v, want ErrAuditTampered", err)
	}
}

// TestAuditEntriesAreNeverBackdated: the vault clock going backwards (a
// simulation's clock, a bad NTP step) does not date an entry before the
// one it follows, and a stored entry dated out of order fails verify.
func TestAuditEntriesAreNeverBackdated(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	if err := v.Audit("cli", "one", "", nil); err != nil {
		t.Fatal(err)
	}
	first := c.Now()
	c.Add(-365 * 24 * time.Hour)
	if err := v.Audit("cli", "two", "", nil); err != nil {
		t.Fatal(err)
	}
	es, err := v.AuditEntries(AuditFilter{})
	if err != nil || len(es) != 2 || !es[1].At.Equal(first) {
		t.Fatalf("entries = %+v, %v; want the second dated %s", es, err, first)
	}
	if got, _ := v.AuditEntries(AuditFilter{Since: first.Add(time.Second)}); len(got) != 0 {
		t.Errorf("entries since after the first = %+v, want none", got)
	}
	if got, _ := v.AuditEntries(AuditFilter{Subject: "nobody"}); len(got) != 0 {
		t.Errorf("entries of another subject = %+v, want none", got)
	}
}

// BenchmarkAuditAppend measures one audit entry on disk under the default
// sync policy: the fsynced store write plus the head file's atomic rewrite.
func BenchmarkAuditAppend(b *testing.B) {
	c := newClock()
	v, err := Open(Options{Dir: b.TempDir(), MasterKey: testKey(1), Now: c.Now, PurgeDelay: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	for b.Loop() {
		if err := v.Audit("subject", "access.my_data", "s", map[string]string{"flow": "booking"}); err != nil {
			b.Fatal(err)
		}
	}
}
