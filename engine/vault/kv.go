package vault

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// kv.go is the vault's seam over its databases (issue 9). The record logic
// of this package reads and writes through kvTx (kvReader, kvTxn) over an
// engine/store transaction, whatever the backend: the embedded Badger
// (engine/store/badger in its Raw layout, the key layout and TTL backstops
// the vault has always written, so existing data directories, backups and
// the attacker tests see the same bytes as before) or a shared store
// (Options.Store: PostgreSQL). What only Badger offers (every version of a
// key, backups in its stream format, value log GC) is reached through the
// store.Local the vault opened (v.bdb, v.bin), never through Badger
// itself: this package does not import Badger. See docs/storage.md.
//
// Missing keys are store.ErrNotFound.

// kvItem is one stored value as a read returns it. The slice Value passes
// to fn is valid only inside fn.
//
// kvItem and kvTx are concrete types, not interfaces, on purpose: a
// closure passed through an interface method escapes to the heap (and
// with it every variable it captures), which cost the turn path about 50
// allocations before they were made concrete.
type kvItem struct {
	v   []byte
	exp time.Time // the record's expiry, by the store clock
}

// Value calls fn with the value.
func (i kvItem) Value(fn func([]byte) error) error { return fn(i.v) }

// ValueCopy returns a copy of the value, in dst when it is large enough.
func (i kvItem) ValueCopy(dst []byte) ([]byte, error) { return append(dst[:0], i.v...), nil }

// kvTx is a transaction of the main (or inbox) database: r, and t when it
// may write. kvReader marks the functions that only read.
type kvTx struct {
	r   store.Reader
	t   store.Txn // nil in a View
	now time.Time // the store clock when the transaction began
	res *seqRes   // sequence numbers reserved for a shared-store transaction
	// shared: the store is shared between processes (not the embedded
	// Badger), so inbox and outbox records get queue entries.
	shared bool
}

type (
	kvReader = kvTx
	kvTxn    = kvTx
)

// writable reports whether the transaction may write.
func (x kvTx) writable() bool { return x.t != nil }

// Get returns the value under key, or store.ErrNotFound.
func (x kvTx) Get(key []byte) (kvItem, error) {
	r, err := x.r.Get(key)
	if err != nil {
		return kvItem{}, err
	}
	return kvItem{v: r.Value, exp: r.ExpiresAt}, nil
}

// Scan calls fn for every live key under prefix, in ascending byte order;
// k and the item are valid only inside fn. values false: fn will rarely
// read the value (kept for the callers' intent; every store reads it).
func (x kvTx) Scan(prefix []byte, values bool, fn func(k []byte, it kvItem) error) error {
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
func (x kvTx) Set(key, value []byte) error { return x.t.Set(key, value, time.Time{}) }

// SetTTL stores value under key; the database may drop it ttl after now
// (the store clock: the wall clock on the embedded Badger, the vault clock
// on a shared store). A backstop either way: the vault judges expiry itself.
func (x kvTx) SetTTL(key, value []byte, ttl time.Duration) error {
	return x.t.Set(key, value, x.now.Add(ttl))
}

// SetLike stores value under key with the expiry like (read in this
// transaction) has: a record that changes but keeps its lifetime.
func (x kvTx) SetLike(key, value []byte, like kvItem) error { return x.t.Set(key, value, like.exp) }

// Delete removes key; a missing key is not an error.
func (x kvTx) Delete(key []byte) error { return x.t.Delete(key) }

// kvPair is one write of a batch.
type kvPair struct{ key, value []byte }

// embedded reports whether the vault runs on its own Badger databases
// (Options.Dir or InMemory), not on a shared store.
func (v *Vault) embedded() bool { return v.bdb != nil }

// storeNow is the clock of the vault's stores: Badger's TTLs run on the
// wall clock; a shared store is opened with the vault clock.
func (v *Vault) storeNow() time.Time {
	if v.embedded() {
		return time.Now()
	}
	return v.now()
}

// view runs fn in a read-only transaction of the main database.
func (v *Vault) view(fn func(kvReader) error) error {
	return v.st.View(context.Background(), func(r store.Reader) error { return fn(kvTx{r: r}) })
}

// update runs fn in a read-write transaction of the main database, retrying
// on conflicts, and waits while a purge runs.
func (v *Vault) update(fn func(kvTxn) error) error {
	v.dropMu.RLock()
	defer v.dropMu.RUnlock()
	return v.updateOn(v.st, fn)
}

// updateOn runs fn in a transaction of st, retrying on conflicts.
func (v *Vault) updateOn(st store.Store, fn func(kvTxn) error) error {
	if v.tk != nil && !v.embedded() {
		// Make the current transient key (a write of its own) before the
		// transaction that seals under it: inside it, that write would need
		// a second pooled connection (see nextSeq). Not on the embedded
		// Badger, whose transient keys are files: there a transaction that
		// seals nothing (a purge) must not make one.
		if _, err := v.tk.current(v.now()); err != nil {
			return err
		}
	}
	return store.UpdateRetry(context.Background(), st, 50, func(t store.Txn) error {
		return fn(kvTx{r: t, t: t, now: v.storeNow(), shared: !v.embedded()})
	})
}

// inboxView runs fn in a read-only transaction of the inbox database (on
// a shared store, the same as the main one: their keys are apart).
func (v *Vault) inboxView(fn func(kvReader) error) error {
	return v.ist.View(context.Background(), func(r store.Reader) error { return fn(kvTx{r: r}) })
}

// inboxUpdate runs fn in a read-write transaction of the inbox database,
// retrying on conflicts (two deliveries of one message id at once).
func (v *Vault) inboxUpdate(fn func(kvTxn) error) error { return v.updateOn(v.ist, fn) }

// updateHeld is update for a caller that holds dropMu exclusively (a purge).
func (v *Vault) updateHeld(fn func(kvTxn) error) error { return v.updateOn(v.st, fn) }

// batchOn writes records to and deletes keys from st outside one
// transaction, in transactions of up to 1000 writes.
func (v *Vault) batchOn(st store.Store, sets []store.Record, dels [][]byte) error {
	n := len(dels) + len(sets)
	for lo := 0; lo < n; lo += 1000 {
		err := store.UpdateRetry(context.Background(), st, 50, func(txn store.Txn) error {
			for i := lo; i < min(lo+1000, n); i++ {
				var err error
				if i < len(dels) {
					err = txn.Delete(dels[i])
				} else {
					r := sets[i-len(dels)]
					err = txn.Set(r.Key, r.Value, r.ExpiresAt)
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

// inboxBatch writes and deletes inbox keys outside a transaction.
func (v *Vault) inboxBatch(sets []kvPair, dels [][]byte) error {
	recs := make([]store.Record, len(sets))
	for i, p := range sets {
		recs[i] = store.Record{Key: p.key, Value: p.value}
	}
	return v.batchOn(v.ist, recs, dels)
}

// purgePrefixes removes every version of the records under prefixes from
// the main database's files, in batches; the caller holds dropMu.
func (v *Vault) purgePrefixes(prefixes [][]byte) error {
	for batch := range slices.Chunk(prefixes, 4096) {
		if err := v.st.Purge(context.Background(), batch...); err != nil {
			return err
		}
	}
	return nil
}

// nextSeq returns the next number of a sequence: on the embedded Badger,
// the sequence of the database that holds its records (Badger leases
// blocks of 256 itself); on a shared store, one from the blocks of seqBlockSize numbers this process leases
// with the store's NextSeq(name): unique across instances, increasing in
// this process, with gaps after a restart (as Badger's leases). Inside a
// store transaction it takes the numbers reserved for it (seqRes): leasing
// a block there would need a second pooled connection, and concurrent
// turns holding every connection would wait for each other for good.
func (v *Vault) nextSeq(txn kvTx, name string) (uint64, error) {
	if v.embedded() {
		if name == "inbox" {
			return v.bin.NextSeq(context.Background(), string(keySeqIn))
		}
		return v.bdb.NextSeq(context.Background(), "m/seq/"+name)
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
// the embedded Badger): outbox and consent numbers, as many as it may take.
func (v *Vault) reserveSeqs(outbox, consent int) (*seqRes, error) {
	if v.embedded() || outbox+consent == 0 {
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
func (v *Vault) syncDB() error { return v.st.Sync(context.Background()) }

// syncInboxDB is syncDB for the inbox database.
func (v *Vault) syncInboxDB() error { return v.ist.Sync(context.Background()) }

// openOnStore finishes openVault on Options.Store: no Badger, no files.
func (v *Vault) openOnStore(opts Options) error {
	v.st, v.ist = opts.Store, opts.Store
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
