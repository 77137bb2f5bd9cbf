package vault

import (
	"context"
	"errors"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/parleyhq/parley/engine/store"
)

// kv.go is the vault's seam over its databases (issue 9). The record logic
// of this package reads and writes through kvTx (kvReader, kvTxn), never
// through *badger.Txn. A kvTx wraps either a Badger transaction (the
// default, zero-copy, with the key layout and TTL backstops the vault has
// always written, so data directories, backups and the attacker tests see
// the same bytes as before) or an engine/store transaction
// (Options.Store: PostgreSQL). What is still Badger-only (Open, the
// every-version sweep, DropPrefix and its write-back, backups, the legacy
// inbox migration) branches on v.st; see docs/storage.md.
//
// Missing keys are store.ErrNotFound, as on engine/store.

// kvItem is one stored value as a read returns it: a Badger item (read
// lazily) or a value a store returned. The slice Value passes to fn is
// valid only inside fn.
//
// kvItem and kvTx are concrete types, not interfaces, on purpose: a
// closure passed through an interface method escapes to the heap (and
// with it every variable it captures), which cost the turn path about 50
// allocations before they were made concrete.
type kvItem struct {
	it  *badger.Item
	v   []byte
	exp time.Time // a store record's expiry
}

// Value calls fn with the value.
func (i kvItem) Value(fn func([]byte) error) error {
	if i.it != nil {
		return i.it.Value(fn)
	}
	return fn(i.v)
}

// ValueCopy returns a copy of the value, in dst when it is large enough.
func (i kvItem) ValueCopy(dst []byte) ([]byte, error) {
	if i.it != nil {
		return i.it.ValueCopy(dst)
	}
	return append(dst[:0], i.v...), nil
}

// kvTx is a transaction of the main (or inbox) database: a Badger one (b)
// or a store's (r, and t when it may write). kvReader marks the functions
// that only read.
type kvTx struct {
	b   *badger.Txn
	r   store.Reader
	t   store.Txn // nil in a store View
	now time.Time // the vault clock when a store transaction began
	res *seqRes   // sequence numbers reserved for a store transaction
}

type (
	kvReader = kvTx
	kvTxn    = kvTx
)

func badgerKV(t *badger.Txn) kvTx { return kvTx{b: t} }

// writable reports whether the transaction may write (a Badger View says
// so at the write).
func (x kvTx) writable() bool { return x.b != nil || x.t != nil }

// Get returns the value under key, or store.ErrNotFound.
func (x kvTx) Get(key []byte) (kvItem, error) {
	if x.b != nil {
		it, err := x.b.Get(key)
		if err != nil {
			if errors.Is(err, badger.ErrKeyNotFound) {
				return kvItem{}, store.ErrNotFound
			}
			return kvItem{}, err
		}
		return kvItem{it: it}, nil
	}
	r, err := x.r.Get(key)
	if err != nil {
		return kvItem{}, err
	}
	return kvItem{v: r.Value, exp: r.ExpiresAt}, nil
}

// Scan calls fn for every live key under prefix, in ascending byte order;
// k and the item are valid only inside fn. values false: fn will rarely
// read the value (Badger then does not prefetch it; values are read
// lazily either way, as before the seam).
func (x kvTx) Scan(prefix []byte, values bool, fn func(k []byte, it kvItem) error) error {
	if x.b != nil {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefix
		o.PrefetchValues = false
		it := x.b.NewIterator(o)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			if err := fn(it.Item().Key(), kvItem{it: it.Item()}); err != nil {
				return err
			}
		}
		return nil
	}
	// Collected first, so that fn is not handed to the store (and does not
	// escape): see kvItem.
	var recs []store.Record
	err := x.r.Scan(prefix, func(r store.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := fn(r.Key, kvItem{v: r.Value, exp: r.ExpiresAt}); err != nil {
			return err
		}
	}
	return nil
}

// Set stores value under key, with no expiry.
func (x kvTx) Set(key, value []byte) error {
	if x.b != nil {
		return x.b.Set(key, value)
	}
	return x.t.Set(key, value, time.Time{})
}

// SetTTL stores value under key; the database may drop it ttl after now:
// on Badger by the wall clock, on a store by the vault clock (a backstop
// either way, the vault judges expiry itself).
func (x kvTx) SetTTL(key, value []byte, ttl time.Duration) error {
	if x.b != nil {
		return x.b.SetEntry(badger.NewEntry(key, value).WithTTL(ttl))
	}
	return x.t.Set(key, value, x.now.Add(ttl))
}

// SetLike stores value under key with the expiry like (read in this
// transaction) has: a record that changes but keeps its lifetime.
func (x kvTx) SetLike(key, value []byte, like kvItem) error {
	if x.b != nil {
		e := badger.NewEntry(key, value)
		e.ExpiresAt = like.it.ExpiresAt()
		return x.b.SetEntry(e)
	}
	return x.t.Set(key, value, like.exp)
}

// Delete removes key; a missing key is not an error.
func (x kvTx) Delete(key []byte) error {
	if x.b != nil {
		return x.b.Delete(key)
	}
	return x.t.Delete(key)
}

// kvPair is one write of a batch.
type kvPair struct{ key, value []byte }

// view runs fn in a read-only transaction of the main database.
func (v *Vault) view(fn func(kvReader) error) error {
	if v.st != nil {
		return v.st.View(context.Background(), func(r store.Reader) error { return fn(kvTx{r: r}) })
	}
	return v.db.View(func(t *badger.Txn) error { return fn(badgerKV(t)) })
}

// update runs fn in a read-write transaction of the main database, retrying
// on conflicts (Badger never retries for us) and while a DropPrefix blocks
// writes.
func (v *Vault) update(fn func(kvTxn) error) error {
	if v.st != nil {
		v.dropMu.RLock()
		defer v.dropMu.RUnlock()
		return v.updateStore(fn)
	}
	return v.updateBadger(func(t *badger.Txn) error { return fn(badgerKV(t)) })
}

// updateBadger runs fn in a read-write Badger transaction of the main
// database, with update's retries.
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

// updateStore runs fn in a store transaction, retrying on conflicts.
func (v *Vault) updateStore(fn func(kvTxn) error) error {
	if v.tk != nil {
		// Make the current transient key (a write of its own) before the
		// transaction that seals under it: inside it, that write would need
		// a second pooled connection (see nextSeq).
		if _, err := v.tk.current(v.now()); err != nil {
			return err
		}
	}
	return store.UpdateRetry(context.Background(), v.st, 50, func(t store.Txn) error {
		return fn(kvTx{r: t, t: t, now: v.now()})
	})
}

// inboxView runs fn in a read-only transaction of the inbox database (on
// a store, the same as the main one: their keys are apart).
func (v *Vault) inboxView(fn func(kvReader) error) error {
	if v.st != nil {
		return v.view(fn)
	}
	return v.inbox.View(func(t *badger.Txn) error { return fn(badgerKV(t)) })
}

// inboxUpdate runs fn in a read-write transaction of the inbox database,
// retrying on conflicts.
func (v *Vault) inboxUpdate(fn func(kvTxn) error) error {
	if v.st != nil {
		return v.updateStore(fn)
	}
	return v.inboxUpdateBadger(func(t *badger.Txn) error { return fn(badgerKV(t)) })
}

// updateHeld is update for a caller that holds dropMu exclusively (a purge).
func (v *Vault) updateHeld(fn func(kvTxn) error) error {
	if v.st != nil {
		return v.updateStore(fn)
	}
	return v.db.Update(func(t *badger.Txn) error { return fn(badgerKV(t)) })
}

// inboxBatch writes and deletes inbox keys outside a transaction (a Badger
// WriteBatch; on a store, transactions of up to 1000 writes).
func (v *Vault) inboxBatch(sets []kvPair, dels [][]byte) error {
	if v.st != nil {
		n := len(dels) + len(sets)
		for lo := 0; lo < n; lo += 1000 {
			err := v.updateStore(func(txn kvTxn) error {
				for i := lo; i < min(lo+1000, n); i++ {
					var err error
					if i < len(dels) {
						err = txn.Delete(dels[i])
					} else {
						err = txn.Set(sets[i-len(dels)].key, sets[i-len(dels)].value)
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	wb := v.inbox.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range dels {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	for _, p := range sets {
		if err := wb.Set(p.key, p.value); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// nextSeq returns the next number of a sequence: Badger's (seq) or, on a
// store, one from the blocks of seqBlockSize numbers this process leases
// with the store's NextSeq(name): unique across instances, increasing in
// this process, with gaps after a restart (as Badger's leases). Inside a
// store transaction it takes the numbers reserved for it (seqRes): leasing
// a block there would need a second pooled connection, and concurrent
// turns holding every connection would wait for each other for good.
func (v *Vault) nextSeq(txn kvTx, seq *badger.Sequence, name string) (uint64, error) {
	if v.st == nil {
		return seq.Next()
	}
	if n, ok := txn.res.pop(name); ok {
		return n, nil
	}
	return v.seqs[name].take(v.st, name)
}

// seqBlockSize is how many numbers one NextSeq leases (a variable for tests).
var seqBlockSize uint64 = 4096

var storeSeqNames = []string{"inbox", "outbox", "consent"}

// seqBlock is the leased block of one sequence on a store.
type seqBlock struct {
	mu         sync.Mutex
	next, left uint64
}

// take returns the next number, leasing a new block when none is left.
func (b *seqBlock) take(st store.Store, name string) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left == 0 {
		blk, err := st.NextSeq(context.Background(), "vault/"+name)
		if err != nil {
			return 0, err
		}
		b.next, b.left = blk*seqBlockSize, seqBlockSize
	}
	n := b.next
	b.next++
	b.left--
	return n, nil
}

// seqRes holds the sequence numbers reserved, before it began, for one
// store transaction; a retry of the transaction uses them again (the
// failed attempt's writes are gone). Nil on Badger.
type seqRes struct {
	outbox, consent []uint64
	used            map[string]int
}

// reserveSeqs reserves numbers for a transaction about to run (nil on
// Badger): outbox and consent numbers, as many as it may take.
func (v *Vault) reserveSeqs(outbox, consent int) (*seqRes, error) {
	if v.st == nil || outbox+consent == 0 {
		return nil, nil
	}
	r := &seqRes{used: map[string]int{}}
	for _, want := range []struct {
		name string
		n    int
		dst  *[]uint64
	}{{"outbox", outbox, &r.outbox}, {"consent", consent, &r.consent}} {
		for range want.n {
			n, err := v.seqs[want.name].take(v.st, want.name)
			if err != nil {
				return nil, err
			}
			*want.dst = append(*want.dst, n)
		}
	}
	return r, nil
}

// again makes the reserved numbers available to a new attempt.
func (r *seqRes) again() {
	if r != nil {
		clear(r.used)
	}
}

func (r *seqRes) pop(name string) (uint64, bool) {
	if r == nil {
		return 0, false
	}
	var from []uint64
	switch name {
	case "outbox":
		from = r.outbox
	case "consent":
		from = r.consent
	}
	i := r.used[name]
	if i >= len(from) {
		return 0, false
	}
	r.used[name] = i + 1
	return from[i], true
}

// syncDB forces the main database's committed writes to stable storage.
func (v *Vault) syncDB() error {
	if v.st != nil {
		return v.st.Sync(context.Background())
	}
	return v.db.Sync()
}

// syncInboxDB is syncDB for the inbox database.
func (v *Vault) syncInboxDB() error {
	if v.st != nil {
		return v.st.Sync(context.Background())
	}
	return v.inbox.Sync()
}

// openOnStore finishes openVault on Options.Store: no Badger, no files.
func (v *Vault) openOnStore(opts Options) error {
	v.st = opts.Store
	v.seqs = map[string]*seqBlock{}
	for _, name := range storeSeqNames {
		v.seqs[name] = &seqBlock{}
	}
	if err := v.initMeta(); err != nil {
		return err
	}
	var err error
	v.tk, err = openTransient(opts)
	return err
}
