package vault

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStaffRecordsSealedAndExpiring: staff records round-trip, expire by
// the caller's clock, are listed per kind, deleted, and neither their id
// nor their content appears in the files on disk.
func TestStaffRecordsSealedAndExpiring(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	const name, secret = "canary-maria", "canary-staff-blob-Zq81"
	if err := v.StaffPut("account", name, []byte(secret), time.Time{}, c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.StaffPut("session", "sess-1", []byte("s1"), c.Now().Add(time.Hour), c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.StaffPut("bogus", "x", nil, time.Time{}, c.Now()); err == nil {
		t.Error("an unknown kind was accepted")
	}
	b, ok, err := v.StaffGet("account", name, c.Now())
	if err != nil || !ok || string(b) != secret {
		t.Fatalf("StaffGet = %q, %v, %v", b, ok, err)
	}
	if _, ok, _ := v.StaffGet("session", name, c.Now()); ok {
		t.Error("kinds share ids: an account name found a session")
	}
	list, err := v.StaffList("session", c.Now())
	if err != nil || len(list) != 1 {
		t.Fatalf("StaffList(session) = %q, %v", list, err)
	}
	c.Add(time.Hour)
	if _, ok, _ := v.StaffGet("session", "sess-1", c.Now()); ok {
		t.Error("an expired session still reads")
	}
	if list, _ := v.StaffList("session", c.Now()); len(list) != 0 {
		t.Errorf("expired sessions listed: %q", list)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, needle := range []string{name, secret, "sess-1"} {
			if bytes.Contains(raw, []byte(needle)) {
				t.Errorf("%s holds %q in the clear", strings.TrimPrefix(p, dir), needle)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v = openDisk(t, dir, c)
	defer v.Close()
	if err := v.StaffDelete("account", name); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := v.StaffGet("account", name, c.Now()); ok {
		t.Error("a deleted account still reads")
	}
}
