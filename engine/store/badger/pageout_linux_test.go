package badger

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// tableRSS is the resident memory (KiB) of the table files under dir that
// are mapped into this process, from /proc/self/smaps.
func tableRSS(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasPrefix(fields[len(fields)-1], dir+"/") && strings.HasSuffix(line, ".sst")
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatalf("smaps line %q: %v", line, err)
			}
			kb += n
		}
	}
	return kb
}

// TestPageOutTables: the table pages a read brought in are handed back to
// the kernel, and the records read the same afterwards.
func TestPageOutTables(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: dir, EncryptionKey: bytes.Repeat([]byte{7}, 32), PageOutEvery: -1}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	const records = 3000
	want := map[string][]byte{}
	for b := range records / 100 {
		err := s.Update(t.Context(), func(tx store.Txn) error {
			for i := range 100 {
				k, v := fmt.Sprintf("k%05d", b*100+i), make([]byte, 1024)
				rand.Read(v)
				want[k] = v
				if err := tx.Set([]byte(k), v, time.Time{}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // the memtable becomes a table file
		t.Fatal(err)
	}
	if s, err = Open(o); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	readAll := func() {
		t.Helper()
		got := 0
		err := s.View(t.Context(), func(r store.Reader) error {
			return r.Scan([]byte("k"), func(rec store.Record) error {
				if !bytes.Equal(rec.Value, want[string(rec.Key)]) {
					return fmt.Errorf("record %s reads differently", rec.Key)
				}
				got++
				return nil
			})
		})
		if err != nil || got != records {
			t.Fatalf("read %d records, %v; want %d", got, err, records)
		}
	}
	readAll()
	before := tableRSS(t, dir)
	if before < 1024 {
		t.Fatalf("%d KiB of tables resident after reading 3 MB of records, want more than 1 MiB", before)
	}
	if n := pageOutTables(dir); n == 0 {
		t.Fatal("no table mapping advised")
	}
	if after := tableRSS(t, dir); after > before/4 {
		t.Errorf("%d KiB of tables resident after the page-out, %d before; want under a quarter", after, before)
	}
	readAll()
}
