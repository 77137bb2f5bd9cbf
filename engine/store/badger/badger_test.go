package badger

import (
	"bytes"
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

func TestConformanceEncrypted(t *testing.T) { storetest.Run(t, backend(true)) }

// TestConformancePlain runs the suite without encryption at rest, so that
// the purge check also reads plaintext files: nothing of a purged value may
// remain in them either.
func TestConformancePlain(t *testing.T) { storetest.Run(t, backend(false)) }

func BenchmarkTurn(b *testing.B) { storetest.BenchmarkTurn(b, backend(true)) }
