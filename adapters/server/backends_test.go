package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
	"github.com/parleyhq/parley/engine/vault"
)

// One PostgreSQL cluster per test binary (pgtest), stopped at the end; each
// test on PostgreSQL gets a fresh database.
func TestMain(m *testing.M) { pgtest.Main(m) }

// backendNames are the storage backends the end-to-end tests that take a
// backend run on, each as a subtest of that name (eachBackend). Without
// PostgreSQL binaries its subtests skip, unless PARLEY_POSTGRES_TESTS=required
// (.ci/run sets it).
var backendNames = []string{"badger", "postgres"}

// eachBackend runs fn once per backend, as a subtest named after it.
func eachBackend(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, name := range backendNames {
		t.Run(name, func(t *testing.T) { fn(t, name) })
	}
}

// backend is where an env keeps its vault: the data directory (Badger, the
// default) or a fresh PostgreSQL database.
type backend struct {
	name string
	dir  string // badger
	url  string // postgres
}

// newBackend returns the backend called name ("" or "badger": dir;
// "postgres": a fresh pgtest database).
func newBackend(t testing.TB, name, dir string) backend {
	t.Helper()
	switch name {
	case "", "badger":
		return backend{name: "badger", dir: dir}
	case "postgres":
		return backend{name: name, url: pgtest.URL(t)}
	}
	t.Fatalf("no backend %q: want one of %v", name, backendNames)
	return backend{}
}

// openStore opens the PostgreSQL store on the clock now.
func (b backend) openStore(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), postgres.Options{URL: b.url, Now: now})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	return st
}

// options are the vault options of the backend, before the clock, the
// logger and the key.
func (b backend) options(t testing.TB, now func() time.Time) vault.Options {
	if b.name == "postgres" {
		return vault.Options{Store: b.openStore(t, now), CloseStore: true}
	}
	return vault.Options{Dir: b.dir}
}

// open opens the vault on the backend (again: the same data every call).
func (b backend) open(t testing.TB, o vault.Options) *vault.Vault {
	t.Helper()
	bo := b.options(t, o.Now)
	o.Dir, o.Store, o.CloseStore = bo.Dir, bo.Store, bo.CloseStore
	v, err := vault.Open(o)
	if err != nil {
		if o.Store != nil {
			o.Store.Close()
		}
		t.Fatalf("vault.Open on %s: %v", b.name, err)
	}
	return v
}

// attackerView is the master-key attacker's view of everything the backend
// holds: every version Badger keeps in the data directory, every row of the
// database. The vault must be closed.
func (b backend) attackerView(t testing.TB) *vault.Recovered {
	t.Helper()
	var r *vault.Recovered
	var err error
	if b.name == "postgres" {
		st := b.openStore(t, nil)
		defer st.Close()
		r, err = vault.AttackerViewStore(st, masterKey)
	} else {
		r, err = vault.AttackerView(b.dir, masterKey)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}
