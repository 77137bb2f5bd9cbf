package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fillSubject stores every kind of record that can hold personal data.
func fillSubject(t *testing.T, v *Vault, c *clock) SubjectID {
	t.Helper()
	s := v.SubjectID("whatsapp", canaries[3])
	if err := v.Commit(s, bookingChange(c)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.InboxPut("wamid.IN1", s, []byte(`{"from":"`+canaries[2]+`","text":"`+canaries[4]+`"}`), c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.OutboxPut(s, []byte("Thanks "+canaries[0]+", see you Monday")); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNoPlaintextInDataDirOrBackup(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	fillSubject(t, v, c)
	backup := filepath.Join(t.TempDir(), "vault.bak")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Backup(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoCanaries(t, dir)
	assertNoCanaries(t, filepath.Dir(backup))
}

func TestReopenEncryptedStoreReadsBack(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := fillSubject(t, v, c)
	// Flush the memtable into an encrypted table: the reopen then has to
	// read an encrypted index (IndexCacheSize > 0 or Badger panics).
	big := make([]byte, 1<<20)
	for i := range 20 {
		err := v.update(func(txn kvTxn) error { return txn.Set([]byte{'z', '/', byte(i)}, big) })
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v = openDisk(t, dir, c)
	defer v.Close()
	_, fields, err := v.LoadSubject(s, c.Now())
	if err != nil || len(fields) != 3 {
		t.Fatalf("LoadSubject after reopen = %v, %v; want 3 fields", fieldNames(fields), err)
	}
	in, err := v.InboxPending()
	if err != nil || len(in) != 1 || in[0].MsgID != "wamid.IN1" {
		t.Errorf("InboxPending after reopen = %+v, %v", in, err)
	}
}

func TestWrongKeyRefusesAndLeavesDirUnchanged(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	fillSubject(t, v, c)
	v.Close()
	before := snapshotDir(t, dir)
	o := diskOpts(dir, c)
	o.MasterKey = testKey(2)
	if v, err := Open(o); !errors.Is(err, ErrWrongKey) {
		if v != nil {
			v.Close()
		}
		t.Fatalf("Open(wrong key) = %v, want ErrWrongKey", err)
	}
	after := snapshotDir(t, dir)
	if len(before) != len(after) {
		t.Errorf("files: %d before, %d after", len(before), len(after))
	}
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s changed by a wrong-key Open", filepath.Base(p))
		}
	}
	v = openDisk(t, dir, c) // the right key still works
	v.Close()
}

func TestWrongKeyInMemoryCheck(t *testing.T) {
	// The m/check record catches a wrong key even where Badger cannot
	// (a restored or foreign store): simulate by re-sealing under another key.
	c := newClock()
	v := openMem(t, c)
	other, _ := newGCM(testKey(9))
	ct, _ := seal(other, nil, checkPlain, keyCheck)
	if err := v.update(func(txn kvTxn) error { return txn.Set(keyCheck, ct) }); err != nil {
		t.Fatal(err)
	}
	if err := v.initMeta(); !errors.Is(err, ErrWrongKey) {
		t.Errorf("initMeta with a foreign key check = %v, want ErrWrongKey", err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	defer v.Close()
	if v2, err := Open(diskOpts(dir, c)); !errors.Is(err, ErrLocked) {
		if v2 != nil {
			v2.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}

func TestEraseShredsAndPurges(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := fillSubject(t, v, c)
	keep := v.SubjectID("whatsapp", "someone-else")
	if err := v.Commit(keep, Change{State: []byte("other")}); err != nil {
		t.Fatal(err)
	}
	r, err := v.Erase(s, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !r.KeyDestroyed || r.States != 1 || r.Fields != 3 || r.Consents != 1 || r.Inbox != 1 || r.Outbox != 1 || len(r.ID) != 64 || !r.PurgePending {
		t.Errorf("receipt = %+v", r)
	}
	ex, err := v.Export(s, c.Now())
	if err != nil || ex.State != nil || len(ex.Fields) != 0 || len(ex.Consents) != 0 {
		t.Errorf("Export after Erase = %+v, %v; want empty", ex, err)
	}
	if in, _ := v.InboxPending(); len(in) != 0 {
		t.Errorf("inbox after Erase = %d entries, want 0", len(in))
	}
	if out, _ := v.OutboxPending(); len(out) != 0 {
		t.Errorf("outbox after Erase = %d entries, want 0", len(out))
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	for _, p := range subjectPrefixes(s) {
		if n := rawVersions(t, v, p, false); n != 0 {
			t.Errorf("after purge, %d versions under %.3s… remain (AllVersions)", n, p)
		}
	}
	if n := rawVersions(t, v, keyE(s), true); n != 1 {
		t.Errorf("erasure ledger entry versions = %d, want 1", n)
	}
	if st, _, _ := v.LoadSubject(keep, c.Now()); string(st) != "other" {
		t.Errorf("other subject's state = %q after erasing s", st)
	}
	// The receipt holds no personal data.
	assertBytesClean(t, "receipt", []byte(r.ID+string(r.Subject)))
	// A new conversation after erasure starts with a fresh key.
	if err := v.Commit(s, Change{State: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoCanaries(t, dir)
	led, err := os.ReadFile(filepath.Join(dir, ledgerName))
	if err != nil || !bytes.Contains(led, []byte(s)) {
		t.Errorf("erasures.log = %q, %v; want the subject id", led, err)
	}
}

func TestEraseSurvivesRestoreOfOlderBackup(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := fillSubject(t, v, c)
	keep := v.SubjectID("whatsapp", "someone-else")
	if err := v.Commit(keep, Change{State: []byte("other")}); err != nil {
		t.Fatal(err)
	}
	var old bytes.Buffer
	if err := v.Backup(&old); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Erase(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, o Options) {
		t.Helper()
		v, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		ex, err := v.Export(s, c.Now())
		if err != nil || ex.State != nil || len(ex.Fields) != 0 || len(ex.Consents) != 0 {
			t.Errorf("Export after restore = %+v, %v; want empty", ex, err)
		}
		for _, p := range subjectPrefixes(s) {
			if n := rawVersions(t, v, p, false); n != 0 {
				t.Errorf("after restore, %d versions under %.3s… remain", n, p)
			}
		}
		if st, _, _ := v.LoadSubject(keep, c.Now()); string(st) != "other" {
			t.Errorf("other subject's state after restore = %q, want other", st)
		}
	}

	t.Run("same dir, database wiped, ledger kept", func(t *testing.T) {
		if err := os.RemoveAll(filepath.Join(dir, dbSubdir)); err != nil {
			t.Fatal(err)
		}
		if err := Restore(diskOpts(dir, c), bytes.NewReader(old.Bytes())); err != nil {
			t.Fatal(err)
		}
		check(t, diskOpts(dir, c))
		assertNoCanaries(t, dir)
	})
	t.Run("new dir, ledger on another volume", func(t *testing.T) {
		o := diskOpts(t.TempDir(), c)
		o.ErasureLog = filepath.Join(dir, ledgerName)
		if err := Restore(o, bytes.NewReader(old.Bytes())); err != nil {
			t.Fatal(err)
		}
		check(t, o)
	})
	t.Run("restore into a non-empty database is refused", func(t *testing.T) {
		if err := Restore(diskOpts(dir, c), bytes.NewReader(old.Bytes())); !errors.Is(err, ErrNotEmpty) {
			t.Errorf("Restore(non-empty) = %v, want ErrNotEmpty", err)
		}
	})
}

func TestBackupRejectsTampering(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	fillSubject(t, v, c)
	// Enough data for several frames.
	for i := range 40 {
		s := v.SubjectID("whatsapp", string(rune('a'+i)))
		if err := v.Commit(s, Change{State: bytes.Repeat([]byte{byte(i)}, 8<<10)}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := v.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	frames := splitFrames(t, good)
	if len(frames) < 3 {
		t.Fatalf("backup has %d frames, want >= 3", len(frames))
	}
	hdr := good[:backupHdrLen]
	join := func(fs ...[]byte) []byte { return bytes.Join(append([][]byte{hdr}, fs...), nil) }
	flipped := bytes.Clone(good)
	flipped[len(flipped)-20] ^= 1
	cases := []struct {
		name string
		data []byte
		key  []byte
	}{
		{"truncated after a frame", join(frames[:len(frames)-1]...), testKey(1)},
		{"truncated mid-frame", good[:len(good)-7], testKey(1)},
		{"frames reordered", join(append([][]byte{frames[1], frames[0]}, frames[2:]...)...), testKey(1)},
		{"a frame dropped", join(append([][]byte{frames[0]}, frames[2:]...)...), testKey(1)},
		{"a bit flipped", flipped, testKey(1)},
		{"trailing data", append(bytes.Clone(good), 0), testKey(1)},
		{"another master key", good, testKey(2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := diskOpts(t.TempDir(), c)
			o.MasterKey = tc.key
			if err := Restore(o, bytes.NewReader(tc.data)); !errors.Is(err, ErrBadBackup) {
				t.Errorf("Restore = %v, want ErrBadBackup", err)
			}
			if ents, _ := os.ReadDir(filepath.Join(o.Dir, dbSubdir)); len(ents) != 0 {
				t.Errorf("failed restore left %d files in the database dir", len(ents))
			}
		})
	}
	t.Run("intact", func(t *testing.T) {
		// An in-memory vault has no erasures.log to carry over, so only a
		// restore without the ledger check may take its backup.
		o := diskOpts(t.TempDir(), c)
		if err := Restore(o, bytes.NewReader(good)); !errors.Is(err, ErrLedgerBehind) {
			t.Errorf("Restore(intact, no ledger) = %v, want ErrLedgerBehind", err)
		}
		if err := RestoreWithoutLedger(o, bytes.NewReader(good)); err != nil {
			t.Errorf("RestoreWithoutLedger(intact) = %v", err)
		}
	})
}

func splitFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	b = b[backupHdrLen:]
	for len(b) > 0 {
		n := 5 + int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4])
		n = 5 + (int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}
