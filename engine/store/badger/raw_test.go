package badger

import (
	"bytes"
	"context"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/parleyhq/parley/engine/store"
)

func openRaw(t *testing.T, dir string, key []byte) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, EncryptionKey: key, Raw: true})
	if err != nil {
		t.Fatalf("Open(Raw) = %v", err)
	}
	return s
}

// TestRawLayoutIsTheVaultsLayout: a Raw store reads what plain Badger wrote
// (key as is, value as is, Badger's TTL as the expiry) and writes the same
// way, so data directories the vault wrote with its own Badger code open
// as they are.
func TestRawLayoutIsTheVaultsLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := bytes.Repeat([]byte{3}, 32)
	exp := time.Now().Add(48 * time.Hour)
	db, err := badgerdb.Open(Options{Dir: dir, EncryptionKey: key}.badgerOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(t *badgerdb.Txn) error {
		if err := t.Set([]byte("f/old"), []byte("written by plain badger")); err != nil {
			return err
		}
		return t.SetEntry(badgerdb.NewEntry([]byte("ow/old"), []byte("with a ttl")).WithTTL(48 * time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openRaw(t, dir, key)
	err = s.View(ctx, func(r store.Reader) error {
		rec, err := r.Get([]byte("f/old"))
		if err != nil || string(rec.Value) != "written by plain badger" || !rec.ExpiresAt.IsZero() {
			t.Errorf("Get(f/old) = %q, expires %v, %v; want the plain value, no expiry", rec.Value, rec.ExpiresAt, err)
		}
		rec, err = r.Get([]byte("ow/old"))
		if err != nil || string(rec.Value) != "with a ttl" || rec.ExpiresAt.Sub(exp).Abs() > 2*time.Second {
			t.Errorf("Get(ow/old) = %q, expires %v, %v; want the TTL as the expiry (%v)", rec.Value, rec.ExpiresAt, err, exp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(x store.Txn) error {
		return x.Set([]byte("f/new"), []byte("written by the store"), exp)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.NextSeq(ctx, "m/seq/outbox"); err != nil || n == 0 {
		t.Fatalf("NextSeq = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = badgerdb.Open(Options{Dir: dir, EncryptionKey: key}.badgerOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(t2 *badgerdb.Txn) error {
		item, err := t2.Get([]byte("f/new"))
		if err != nil {
			return err
		}
		v, _ := item.ValueCopy(nil)
		if string(v) != "written by the store" || item.ExpiresAt() != uint64(exp.Unix()) {
			t.Errorf("plain Badger reads f/new = %q, ExpiresAt %d; want the value as given and TTL %d", v, item.ExpiresAt(), exp.Unix())
		}
		if _, err := t2.Get([]byte("m/seq/outbox")); err != nil {
			t.Errorf("the sequence is not under its own name: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRawPurgeDropsEveryVersion: ScanVersions sees the old versions of a
// rewritten and a deleted key; after Purge none of them is left, and a
// backup carries only the newest version of the keys that live.
func TestRawPurgeDropsEveryVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openRaw(t, dir, nil)
	defer s.Close()
	for _, v := range []string{"Zelda v1", "Zelda v2", "Zelda v3"} {
		if err := s.Update(ctx, func(x store.Txn) error { return x.Set([]byte("s/a"), []byte(v), time.Time{}) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, func(x store.Txn) error { return x.Set([]byte("s/b"), []byte("Quokka"), time.Time{}) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(x store.Txn) error { return x.Delete([]byte("s/b")) }); err != nil {
		t.Fatal(err)
	}
	versions := func(prefix string) (vals []string, gone int) {
		err := s.ScanVersions(ctx, []byte(prefix), func(v Version) error {
			vals = append(vals, string(v.Value))
			if v.Gone {
				gone++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return vals, gone
	}
	if vals, gone := versions("s/"); len(vals) != 5 || vals[0] != "Zelda v3" || vals[2] != "Zelda v1" || gone != 1 {
		t.Fatalf("versions before purge = %q (%d gone); want 3 of s/a newest first, the delete and the value of s/b", vals, gone)
	}

	var backup bytes.Buffer
	if err := s.BackupLatest(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{"Zelda v1", "Zelda v2", "Quokka"} {
		if bytes.Contains(backup.Bytes(), []byte(old)) {
			t.Errorf("the backup carries %q, an old or deleted version", old)
		}
	}
	if !bytes.Contains(backup.Bytes(), []byte("Zelda v3")) {
		t.Error("the backup misses the live value (control)")
	}

	if err := s.Purge(ctx, []byte("s/")); err != nil {
		t.Fatal(err)
	}
	if vals, _ := versions("s/"); len(vals) != 0 {
		t.Errorf("versions after purge = %q; want none", vals)
	}

	r := openRaw(t, t.TempDir(), nil)
	defer r.Close()
	if err := r.Load(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	err := r.View(ctx, func(rd store.Reader) error {
		rec, err := rd.Get([]byte("s/a"))
		if err != nil || string(rec.Value) != "Zelda v3" {
			t.Errorf("restored s/a = %q, %v", rec.Value, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
