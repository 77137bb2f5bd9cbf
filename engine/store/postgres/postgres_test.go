package postgres

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
	"github.com/parleyhq/parley/engine/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, url string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{URL: url, Now: now})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// urls remembers the database of each store the suite opened, for Peer.
var urls = map[*Store]string{}

func backend() storetest.Backend {
	return storetest.Backend{
		Open: func(t testing.TB, now func() time.Time) store.Store {
			url := pgtest.URL(t)
			s := open(t, url, now)
			urls[s] = url
			return s
		},
		Peer: func(t testing.TB, s store.Store, now func() time.Time) store.Store {
			return open(t, urls[s.(*Store)], now)
		},
		Raw: func(t testing.TB, s store.Store) []byte { return pgtest.Raw(t, urls[s.(*Store)]) },
	}
}

func TestConformance(t *testing.T) { storetest.RunConformance(t, backend()) }

// TestMigrationsIdempotent starts four instances at once on a new database
// (the advisory lock makes one migrate and the others wait), then checks
// that each migration was recorded once.
func TestMigrationsIdempotent(t *testing.T) {
	url := pgtest.URL(t)
	opened := make(chan *Store, 4)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(context.Background(), Options{URL: url})
			if err != nil {
				errs <- err
				return
			}
			t.Cleanup(func() { s.Close() })
			opened <- s
		}()
	}
	var a, b *Store
	for range 4 {
		select {
		case err := <-errs:
			t.Fatalf("concurrent Open = %v", err)
		case s := <-opened:
			a, b = b, s
		}
	}
	var n, v int
	err := b.pool.QueryRow(context.Background(), "SELECT count(*), max(version) FROM parley_schema_migrations").Scan(&n, &v)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := migrations.ReadDir("migrations")
	if n != len(files) || v != len(files) {
		t.Errorf("schema migrations: %d rows, version %d; want %d, %d", n, v, len(files), len(files))
	}
	// A schema newer than this binary is refused in plain words.
	if _, err := a.pool.Exec(context.Background(), "INSERT INTO parley_schema_migrations (version) VALUES (99)"); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), Options{URL: url})
	if err == nil || !strings.Contains(err.Error(), "newer than this Parley knows") {
		t.Errorf("Open on a newer schema = %v, want a refusal", err)
	}
}

// TestOpenBadURL: a malformed URL is refused without echoing it (it may
// hold a password).
func TestOpenBadURL(t *testing.T) {
	_, err := Open(context.Background(), Options{URL: "postgres://u:s3cret@host:notaport/db"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(bad URL) = %v, want an error without the password", err)
	}
}

func BenchmarkTurn(b *testing.B) { storetest.BenchmarkTurn(b, backend()) }

// TestOpenUnreachable: no server on the port gives an error that says
// what to check.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Open(ctx, Options{URL: "postgres://parley:s3cret@" + addr + "/parley?connect_timeout=5"})
	if err == nil || !strings.Contains(err.Error(), "cannot connect to the database") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(nothing listening) = %v, want a plain cannot-connect error without the password", err)
	}
}
