package badger

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/storetest"
)

func backend(encrypted bool) storetest.Backend {
	return storetest.Backend{
		Open: func(t testing.TB, now func() time.Time) store.Store {
			o := Options{Dir: t.TempDir(), Now: now}
			if encrypted {
				o.EncryptionKey = bytes.Repeat([]byte{7}, 32)
			}
			s, err := Open(o)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Raw: func(t testing.TB, st store.Store) []byte {
			return rawBytes(t, st.(*Store))
		},
	}
}

// rawBytes is what an attacker with the directory and the key reads: every
// file as it is on disk, and every version of every key Badger still keeps
// (deleted and expired ones included), decrypted.
func rawBytes(t testing.TB, s *Store) []byte {
	t.Helper()
	var raw bytes.Buffer
	err := s.db.View(func(txn *badgerdb.Txn) error {
		o := badgerdb.DefaultIteratorOptions
		o.AllVersions = true
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			raw.Write(it.Item().KeyCopy(nil))
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			raw.Write(v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading all versions: %v", err)
	}
	err = filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		raw.Write(b)
		return err
	})
	if err != nil {
		t.Fatalf("reading the files: %v", err)
	}
	return raw.Bytes()
}

func TestConformanceEncrypted(t *testing.T) { storetest.RunConformance(t, backend(true)) }

// TestConformancePlain runs the suite without encryption at rest, so that
// the purge check also reads plaintext files: nothing of a purged value may
// remain in them either.
func TestConformancePlain(t *testing.T) { storetest.RunConformance(t, backend(false)) }

func BenchmarkTurn(b *testing.B) { storetest.BenchmarkTurn(b, backend(true)) }

// TestRestartKeepsLeasesAndSequences closes the store with a claimed,
// unacked entry (the worker died with the process) and opens the directory
// again: the lease still holds until it ends, then the entry is claimed
// again with its attempt counted, and sequences continue above every
// number handed out before.
func TestRestartKeepsLeasesAndSequences(t *testing.T) {
	ctx := context.Background()
	c := storetest.NewClock()
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	s, err := Open(Options{Dir: dir, EncryptionKey: key, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(x store.Txn) error {
		_, err := x.Enqueue("inbox", "conv-1", []byte("hello"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := s.Claim(ctx, "inbox", "first", 1, time.Minute)
	if err != nil || len(ls) != 1 {
		t.Fatalf("Claim = %v, %v", ls, err)
	}
	before, err := s.NextSeq(ctx, "consent")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{Dir: dir, EncryptionKey: key, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Claim(ctx, "inbox", "second", 1, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("Claim after restart within the lease = %v, %v; want none", got, err)
	}
	c.Add(time.Minute)
	got, err := s.Claim(ctx, "inbox", "second", 1, time.Minute)
	if err != nil || len(got) != 1 || got[0].Attempts != 2 || string(got[0].Payload) != "hello" {
		t.Fatalf("Claim after the lease ended = %+v, %v; want hello, attempt 2", got, err)
	}
	if after, err := s.NextSeq(ctx, "consent"); err != nil || after <= before {
		t.Errorf("NextSeq after restart = %d, %v; want above %d", after, err, before)
	}
}

// TestDeleteExpiredInBatches deletes more expired records than one batch
// holds, so the loop over transactions runs.
func TestDeleteExpiredInBatches(t *testing.T) {
	defer func(n int) { deleteBatch = n }(deleteBatch)
	deleteBatch = 3
	c := storetest.NewClock()
	s := backend(false).Open(t, c.Now)
	err := s.Update(context.Background(), func(x store.Txn) error {
		for i := range 10 {
			exp := c.Now().Add(time.Minute)
			if i == 4 {
				exp = time.Time{}
			}
			if err := x.Set([]byte{'e', byte('0' + i)}, nil, exp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	keys, err := s.DeleteExpired(context.Background(), []byte("e"))
	if err != nil || len(keys) != 9 || string(keys[0]) != "e0" || string(keys[8]) != "e9" {
		t.Fatalf("DeleteExpired = %q, %v; want the 9 expired keys in order", keys, err)
	}
	c.Add(-time.Hour) // records only hidden, not deleted, would show again
	var left int
	err = s.View(context.Background(), func(r store.Reader) error {
		return r.Scan([]byte("e"), func(store.Record) error { left++; return nil })
	})
	if err != nil || left != 1 {
		t.Errorf("records left = %d, %v; want 1", left, err)
	}
}

// TestWrongKey: another key does not open the data, and says so with
// store.ErrWrongKey; the right key still does afterwards.
func TestWrongKey(t *testing.T) {
	dir := t.TempDir()
	open := func(b byte) (*Store, error) {
		return Open(Options{Dir: dir, EncryptionKey: bytes.Repeat([]byte{b}, 32)})
	}
	s, err := open(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(x store.Txn) error { return x.Set([]byte("k"), []byte("v"), time.Time{}) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := open(2); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("Open with another key = %v, want ErrWrongKey", err)
	}
	s, err = open(1)
	if err != nil {
		t.Fatalf("Open with the right key after a refusal = %v", err)
	}
	defer s.Close()
	err = s.View(context.Background(), func(r store.Reader) error {
		rec, err := r.Get([]byte("k"))
		if err == nil && string(rec.Value) != "v" {
			t.Errorf("value = %q", rec.Value)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
}
