package vault

import (
	"errors"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/parleyhq/parley/engine/store"
)

// kv.go is the vault's seam over its main database, the first step of
// moving the vault onto engine/store (issue 9). Code in this package reads
// and writes the main database through kvReader and kvTxn, never through
// *badger.Txn; badgerKV adapts a Badger transaction to them, zero-copy and
// with the key layout and TTL backstops the vault has always written, so
// data directories, backups and the attacker tests see the same bytes as
// before. A store.Txn adapter is the next step (see docs/storage.md).
//
// Missing keys are store.ErrNotFound, as on engine/store.

// kvItem is one stored value as a read returns it. The slice Value passes
// to fn is valid only inside fn.
type kvItem interface {
	Value(fn func([]byte) error) error
	ValueCopy(dst []byte) ([]byte, error)
}

// kvReader reads the main database inside a transaction.
type kvReader interface {
	// Get returns the value under key, or store.ErrNotFound.
	Get(key []byte) (kvItem, error)
	// Scan calls fn for every live key under prefix, in ascending byte
	// order; k and the item are valid only inside fn. values false: fn will
	// rarely read the value (Badger then does not prefetch it).
	Scan(prefix []byte, values bool, fn func(k []byte, it kvItem) error) error
}

// kvTxn is a read-write transaction of the main database.
type kvTxn interface {
	kvReader
	// Set stores value under key, with no expiry.
	Set(key, value []byte) error
	// SetTTL stores value under key; the database may drop it ttl after now
	// (by the wall clock: a backstop, the vault judges expiry itself).
	SetTTL(key, value []byte, ttl time.Duration) error
	// Delete removes key; a missing key is not an error.
	Delete(key []byte) error
}

// badgerKV adapts a Badger transaction. A struct of one pointer: boxing it
// in an interface does not allocate.
type badgerKV struct{ t *badger.Txn }

func (b badgerKV) Get(key []byte) (kvItem, error) {
	it, err := b.t.Get(key)
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	return it, nil
}

func (b badgerKV) Scan(prefix []byte, values bool, fn func(k []byte, it kvItem) error) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = prefix
	o.PrefetchValues = false // values are read lazily (item.Value), as before the seam
	it := b.t.NewIterator(o)
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if err := fn(it.Item().Key(), it.Item()); err != nil {
			return err
		}
	}
	return nil
}

func (b badgerKV) Set(key, value []byte) error { return b.t.Set(key, value) }

func (b badgerKV) SetTTL(key, value []byte, ttl time.Duration) error {
	return b.t.SetEntry(badger.NewEntry(key, value).WithTTL(ttl))
}

func (b badgerKV) Delete(key []byte) error { return b.t.Delete(key) }

// view runs fn in a read-only transaction of the main database.
func (v *Vault) view(fn func(kvReader) error) error {
	return v.db.View(func(t *badger.Txn) error { return fn(badgerKV{t}) })
}

// update runs fn in a read-write transaction of the main database, retrying
// on conflicts (Badger never retries for us) and while a DropPrefix blocks
// writes.
func (v *Vault) update(fn func(kvTxn) error) error {
	return v.updateBadger(func(t *badger.Txn) error { return fn(badgerKV{t}) })
}

// updateBadger is update for the code not yet moved onto the seam.
func (v *Vault) updateBadger(fn func(txn *badger.Txn) error) error {
	v.dropMu.RLock()
	defer v.dropMu.RUnlock()
	var err error
	for range 50 {
		err = v.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) && !errors.Is(err, badger.ErrBlockedWrites) {
			return err
		}
	}
	return err
}

// inboxView runs fn in a read-only transaction of the inbox database.
func (v *Vault) inboxView(fn func(kvReader) error) error {
	return v.inbox.View(func(t *badger.Txn) error { return fn(badgerKV{t}) })
}

// inboxUpdate runs fn in a read-write transaction of the inbox database,
// retrying on conflicts.
func (v *Vault) inboxUpdate(fn func(kvTxn) error) error {
	return v.inboxUpdateBadger(func(t *badger.Txn) error { return fn(badgerKV{t}) })
}

// updateHeld is update for a caller that holds dropMu exclusively (a purge).
func (v *Vault) updateHeld(fn func(kvTxn) error) error {
	return v.db.Update(func(t *badger.Txn) error { return fn(badgerKV{t}) })
}
