package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// registry.go is how the layers above find a backend without importing it,
// the database/sql way: each backend package registers an Opener under a
// name from its init function, cmd/parley imports the backends it ships
// (blank imports), and the vault opens what Config names through Open. A
// new backend is one package that implements Store, passes storetest and
// calls Register; see docs/storage.md "Adding a backend".

// Config says what to open. A backend reads the fields that apply to it and
// ignores the others.
type Config struct {
	// URL names a database server (postgres://user@host/db); its scheme is
	// the backend's name (OpenURL).
	URL string
	// Dir holds a local backend's files; empty with InMemory.
	Dir string
	// InMemory keeps a local backend in memory (tests).
	InMemory bool
	// EncryptionKey encrypts a local backend's files at rest (nil: none).
	EncryptionKey []byte
	// SyncWrites fsyncs every commit (otherwise Sync does it on demand).
	SyncWrites bool
	// ReadOnly opens existing files without writing (an auditor's view).
	ReadOnly bool
	// Small sizes caches for a database that holds little (the vault's
	// inbox).
	Small bool
	// Raw asks a local backend for the layout the vault's data directories
	// have always had: keys and values as given, expiry by the backend's
	// own TTL on the wall clock (Now is then ignored). A backend with only
	// one layout ignores it.
	Raw bool
	// Now is the store clock (time.Now when nil).
	Now func() time.Time
	// Logger receives the backend's warnings and errors; nil: silent.
	Logger *slog.Logger
}

// Opener opens (or creates) a store. ctx bounds the opening only.
type Opener func(ctx context.Context, c Config) (Store, error)

// ErrUnknownBackend: no backend is registered under the name asked for (the
// binary was built without it).
var ErrUnknownBackend = errors.New("store: no such backend")

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes a backend available under name (lower case, the scheme of
// its URLs). It panics on an empty name, a nil opener or a name registered
// twice: programmer mistakes, found at start-up.
func Register(name string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if name == "" || name != strings.ToLower(name) || open == nil {
		panic(fmt.Sprintf("store: Register(%q): the name must be lower case and not empty, and the opener not nil", name))
	}
	if _, dup := openers[name]; dup {
		panic(fmt.Sprintf("store: Register(%q) called twice", name))
	}
	openers[name] = open
}

// Backends returns the registered names, sorted.
func Backends() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	names := make([]string, 0, len(openers))
	for n := range openers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens the store of the backend registered under name.
func Open(ctx context.Context, name string, c Config) (Store, error) {
	openersMu.RLock()
	open := openers[name]
	openersMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%w %q (this build has: %s)", ErrUnknownBackend, name, strings.Join(Backends(), ", "))
	}
	return open(ctx, c)
}

// OpenURL opens the store c.URL names, by the backend registered under the
// URL's scheme (postgres://… opens "postgres").
func OpenURL(ctx context.Context, c Config) (Store, error) {
	scheme, _, ok := strings.Cut(c.URL, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("%w: a store URL starts with the backend's name and :// (this build has: %s)", ErrUnknownBackend, strings.Join(Backends(), ", "))
	}
	return Open(ctx, strings.ToLower(scheme), c)
}

// Version is one version of a record that a backend's files still hold, as
// Local.ScanVersions reads it.
type Version struct {
	Key   []byte
	Value []byte
	// ExpiresAt is the version's expiry (zero: none).
	ExpiresAt time.Time
	// Gone: a delete marker or an expired version; no read returns it,
	// but the files still hold it until a compaction or a Purge.
	Gone bool
}

// Local is what a backend that keeps a data directory on this machine (the
// embedded Badger) offers beyond Store. The vault's data directory needs it:
// its sweeps read old versions, its backups are the backend's own stream.
type Local interface {
	Store
	// ScanVersions calls fn for every version the files still hold of every
	// record under prefix (nil: all), deleted and expired ones included:
	// keys ascending, the newest version of a key first.
	ScanVersions(ctx context.Context, prefix []byte, fn func(Version) error) error
	// BackupLatest writes the newest live version of every record, in the
	// format Load reads. The stream is plaintext: the caller seals it.
	BackupLatest(ctx context.Context, w io.Writer) error
	// Load reads what BackupLatest wrote into an empty store.
	Load(ctx context.Context, r io.Reader) error
	// Size returns the bytes of the index and of the value files.
	Size() (index, values int64)
	// CollectGarbage rewrites files that are mostly garbage, so that old
	// values leave the disk.
	CollectGarbage(ctx context.Context) error
}
