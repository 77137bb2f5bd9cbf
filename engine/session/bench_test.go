package session_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store/postgres"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
	"github.com/parleyhq/parley/engine/vault"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bookingScript is the reference conversation: replies 2,1,1,1,1,1.
var bookingScript = []runtime.Inbound{
	{Text: "hi"}, {Text: "YES"}, {Text: "Ada"}, {Text: "not-an-email"}, {Text: "ada@example.com"}, {Text: "2"},
}

// diskVault opens an encrypted vault on disk with the production defaults
// (SyncCritical: consent records fsynced with group commit).
func diskVault(tb testing.TB, dir string, now func() time.Time) *vault.Vault {
	tb.Helper()
	v, err := vault.Open(vault.Options{Dir: dir, MasterKey: masterKey(tb), Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// dataBytes sums the Badger table, value-log and memtable files under dir:
// what grows with the data (not the fixed-size DISCARD, KEYREGISTRY,
// MANIFEST, lock and ledger files).
func dataBytes(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".sst", ".vlog", ".mem":
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkSessionTurn drives the booking conversation through
// runtime.Engine on session.Store over an encrypted on-disk vault, with
// many subjects in parallel (each goroutine starts a new subject after
// every six turns). One op is one turn; turns/s is the throughput.
func BenchmarkSessionTurn(b *testing.B) {
	benchSessionTurn(b, diskVault(b, b.TempDir(), nil))
}

// BenchmarkSessionTurnPostgres is BenchmarkSessionTurn with the vault on
// PostgreSQL (a fresh database of the pgtest cluster on this machine).
func BenchmarkSessionTurnPostgres(b *testing.B) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Options{URL: pgtest.URL(b)})
	if err != nil {
		b.Fatal(err)
	}
	v, err := vault.Open(vault.Options{Store: st, CloseStore: true, MasterKey: masterKey(b)})
	if err != nil {
		b.Fatal(err)
	}
	benchSessionTurn(b, v)
}

// benchSessionTurn drives the booking conversation on v and closes it.
func benchSessionTurn(b *testing.B, v *vault.Vault) {
	s := session.New(v)
	p := program(b, "../../flows/booking.yaml")
	e := &runtime.Engine{Programs: map[string]*compile.Program{p.ID(): p}, Store: s}
	var next atomic.Int64
	ctx := context.Background()
	b.SetParallelism(16) // 32 goroutines on 2 cores: consent fsyncs are group-committed
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := len(bookingScript)
		subj := ""
		for pb.Next() {
			if i == len(bookingScript) {
				subj = s.Subject("bench", strconv.FormatInt(next.Add(1), 10))
				i = 0
			}
			out, err := e.Handle(ctx, subj, bookingScript[i])
			if err != nil {
				b.Error(err)
				return
			}
			if len(out) == 0 {
				b.Error("no reply")
				return
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
	if err := v.Close(); err != nil {
		b.Fatal(err)
	}
}

// TestDiskBytesPerConversation stores complete booking conversations on an
// encrypted on-disk vault and logs the bytes on disk each one costs (state,
// three sealed fields, one consent record, the wrapped key, Badger's
// indexes, and the superseded versions of the state each turn rewrote,
// which stay until a compaction), measured after Close flushed the memtables.
func TestDiskBytesPerConversation(t *testing.T) {
	const n = 2000
	dir := t.TempDir()
	now := func() time.Time { return t0 } // the vault judges expiry by the engine's clock
	v := diskVault(t, dir, now)
	s := session.New(v)
	p := program(t, "../../flows/booking.yaml")
	e := &runtime.Engine{Programs: map[string]*compile.Program{p.ID(): p}, Store: s, Now: now}
	ctx := context.Background()
	for i := range n {
		subj := s.Subject("bench", strconv.Itoa(i))
		for _, in := range bookingScript {
			if _, err := e.Handle(ctx, subj, in); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := v.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Subjects != n || st.Fields != 3*n || st.Consents != n {
		t.Fatalf("stats %+v, want %d subjects, %d fields, %d consents", st, n, 3*n, n)
	}
	empty := t.TempDir()
	ev := diskVault(t, empty, now)
	if err := ev.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	base := dataBytes(t, empty)
	per := float64(dataBytes(t, dir)-base) / n
	t.Logf("bytes on disk per stored booking conversation: %.0f (%d conversations, empty vault %d bytes)", per, n, base)
	if per <= 0 || per > 4096 {
		t.Errorf("%.0f bytes per conversation: expected a few hundred", per)
	}
}
