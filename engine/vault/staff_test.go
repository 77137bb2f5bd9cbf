package vault

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
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

// TestStaffRecordsRoundTrip judges staff records by the API only, so it
// also runs on PostgreSQL (backendNeutral).
func TestStaffRecordsRoundTrip(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	for i, kind := range []string{"account", "session", "token"} {
		exp := time.Time{}
		if i > 0 {
			exp = c.Now().Add(time.Duration(i) * time.Hour)
		}
		if err := v.StaffPut(kind, "id-1", []byte(kind+"-blob"), exp, c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range []string{"account", "session", "token"} {
		if b, ok, err := v.StaffGet(kind, "id-1", c.Now()); err != nil || !ok || string(b) != kind+"-blob" {
			t.Errorf("StaffGet(%s) = %q, %v, %v", kind, b, ok, err)
		}
	}
	c.Add(time.Hour)
	if _, ok, _ := v.StaffGet("session", "id-1", c.Now()); ok {
		t.Error("a session read after its expiry")
	}
	if _, ok, _ := v.StaffGet("token", "id-1", c.Now()); !ok {
		t.Error("a token read as gone before its expiry")
	}
	if err := v.StaffDelete("token", "id-1"); err != nil {
		t.Fatal(err)
	}
	if list, err := v.StaffList("token", c.Now()); err != nil || len(list) != 0 {
		t.Errorf("StaffList(token) after delete = %q, %v", list, err)
	}
	if list, err := v.StaffList("account", c.Now()); err != nil || len(list) != 1 {
		t.Errorf("StaffList(account) = %q, %v", list, err)
	}
}

// TestPostgresStaffRevocationReachesTheOtherInstance: a session a CLI on
// one instance deletes (or an account it changes) reads as gone on the
// serving instance at once; nothing is cached.
func TestPostgresStaffRevocationReachesTheOtherInstance(t *testing.T) {
	c := newClock()
	url := pgtest.URL(t)
	serving, _ := openPG(t, url, c)
	cli, _ := openPG(t, url, c)
	if err := serving.StaffPut("session", "s1", []byte("gen=1"), c.Now().Add(time.Hour), c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := cli.StaffPut("account", "maria", []byte("gen=2"), time.Time{}, c.Now()); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := serving.StaffGet("account", "maria", c.Now()); err != nil || !ok || string(b) != "gen=2" {
		t.Fatalf("serving instance reads %q, %v, %v; want the CLI's change", b, ok, err)
	}
	if err := cli.StaffDelete("session", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := serving.StaffGet("session", "s1", c.Now()); ok {
		t.Error("a session deleted by the other instance still reads")
	}
}
