// Package badger implements store.Store on an embedded Badger v4 database,
// encrypted at rest when given a key. It is Parley's default backend: one
// process, no server to run. The directory is locked by Badger, so exactly
// one process uses it; queue leases then only arbitrate between goroutines.
//
// Key layout inside Badger (the first byte keeps the spaces apart):
//
//	r<key>                          record: 8-byte expiry (Unix ns, 0 = never) + value
//	q<queue>\x00i<seq, 8 bytes BE>  queue entry: attempts, not-before, partition, payload
//	q<queue>\x00l<partition>        lease of a partition: token, expiry, seq
//	s<name>                         Badger sequence behind NextSeq
//	Q<queue>                        Badger sequence behind Enqueue
//
// Expiry is judged by Options.Now; Badger's own TTL is set as a backstop
// Options.Backstop after the expiry (by the wall clock), so that records
// nobody sweeps still leave the files eventually.
//
// Options.Raw selects the layout engine/vault has always written in its data
// directory (db/ and inbox/): a record is the Badger key and value as given,
// and its expiry is Badger's own TTL, by the wall clock. The vault opens its
// directories so, and existing data directories open as they are, with no
// migration. Raw stores also offer what only Badger has and the vault's
// privacy guarantees rely on: ScanVersions (every version the files still
// hold), BackupLatest and Load, Size and CollectGarbage.
//
// This file holds the one Badger options chain of the module (Open).
package badger

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/parleyhq/parley/engine/store"
)

var _ store.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	// Dir holds the Badger files. Required unless InMemory.
	Dir string
	// InMemory keeps everything in memory (tests).
	InMemory bool
	// EncryptionKey (16, 24 or 32 bytes) encrypts the files at rest; nil:
	// plain files.
	EncryptionKey []byte
	// SyncWrites fsyncs every commit; otherwise Sync does it on demand.
	SyncWrites bool
	// Now is the store clock (time.Now when nil).
	Now func() time.Time
	// Backstop is added to a record's expiry for Badger's own TTL (default
	// 7 days); negative: no Badger TTL.
	Backstop time.Duration
	// Logger receives Badger's warnings and errors. Nil: silent.
	Logger *slog.Logger
	// Raw: keys and values are stored as given and a record's expiry is
	// Badger's TTL, judged by the wall clock (Now and Backstop are ignored;
	// ExpiresAt has Unix-second precision): the vault's on-disk layout.
	// Queue keys then share the key space (they begin with 'q' and hold a
	// NUL byte).
	Raw bool
	// Small sizes caches and tables for a database that holds little (the
	// vault's inbox: dedupe markers and the few messages not yet processed).
	Small bool
	// ReadOnly opens existing files without writing (an auditor's view).
	ReadOnly bool
	// PageOutEvery is how often the pages of the table files mapped into
	// the process are handed back to the kernel (see pageOutTables; Linux
	// only): 0 means DefaultPageOutEvery, negative never.
	PageOutEvery time.Duration
}

// DefaultPageOutEvery is Options.PageOutEvery's default: the tables written
// (flushes, compactions) in the last 5 s at most stay resident.
const DefaultPageOutEvery = 5 * time.Second

// Sizes of the Small profile: values over SmallValueThreshold go to the
// value log (Badger requires the threshold below the memtable size).
const (
	SmallMemTable       = 4 << 20
	SmallValueThreshold = 512 << 10
)

// Sizes of the default profile, for a chat workload: many small records
// (a conversation is a few KB), a hot set of the conversations going on
// now, written a few times a minute each. Caches and memtables are most of
// the server's live heap, so they are what bounds its memory: a memtable
// of 4 MiB holds ~1,000 turns, the block cache the blocks of several
// thousand active conversations, the index cache the hot table indexes.
//
// Badger's table builders are the rest of it: a memtable flush or a
// compaction builds each table in buffers of twice the table's size,
// growing by doubling to about three times the table's data (the blocks,
// compressed, encrypted), and keeps up to 8 of them pooled for reuse, each
// as large as the largest table it ever built. So the memtable (a flush
// builds one table of it) and the table size (BaseTableSize, doubling per
// level below the base) bound the builders; a memtable also maps a
// write-ahead file of its size, which stays resident. Badger's 2 MiB
// tables stay: 1 MiB tables at every level (TableSizeMultiplier 1) cost
// 16-32% more CPU per turn while filling. Values over ValueThreshold go to
// the value log; Badger requires it below 15% of the memtable.
// bench/findings.md §3 has the figures.
const (
	MainMemTable       = 4 << 20
	MainValueThreshold = 512 << 10
	MainBlockCache     = 16 << 20
	MainIndexCache     = 8 << 20
)

// badgerOptions is the one Badger options chain of the module: sized for a
// small (2-core) machine; see shared/reference/libraries.md §1.
func (o Options) badgerOptions() badgerdb.Options {
	bo := badgerdb.DefaultOptions(o.Dir)
	if o.InMemory {
		bo = badgerdb.DefaultOptions("").WithInMemory(true)
	}
	bo = bo.WithEncryptionKey(o.EncryptionKey).
		WithEncryptionKeyRotationDuration(7 * 24 * time.Hour).
		WithIndexCacheSize(MainIndexCache). // required with encryption: 0 panics at the first table read
		WithBlockCacheSize(MainBlockCache).
		WithMemTableSize(MainMemTable).
		WithValueThreshold(MainValueThreshold).
		WithNumMemtables(2).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithSyncWrites(o.SyncWrites).
		WithReadOnly(o.ReadOnly).
		WithLogger(nil)
	if o.Small {
		bo = bo.WithIndexCacheSize(2 << 20). // required with encryption
							WithBlockCacheSize(4 << 20).
							WithMemTableSize(SmallMemTable).
							WithValueThreshold(SmallValueThreshold).
							WithValueLogFileSize(16 << 20).
							WithNumLevelZeroTables(2).
							WithNumLevelZeroTablesStall(8)
	}
	if o.Logger != nil {
		// Badger prints keys in some error paths; Parley's keys hold
		// pseudonyms only.
		bo = bo.WithLogger(logger{o.Logger}).WithLoggingLevel(badgerdb.WARNING)
	}
	return bo
}

// Store is a Badger-backed store.Store. Safe for concurrent use.
type Store struct {
	db       *badgerdb.DB
	now      func() time.Time
	backstop time.Duration
	dir      string
	raw      bool
	closed   atomic.Bool

	// dropMu: writers hold it shared, Purge exclusive, because Badger
	// rejects writes (ErrBlockedWrites) while DropPrefix runs.
	dropMu sync.RWMutex

	seqMu sync.Mutex
	seqs  map[string]*badgerdb.Sequence

	// stop ends the page-out loop (startPageOut), wg waits for it.
	stop chan struct{}
	wg   sync.WaitGroup

	// claimMu runs one Claim at a time: claims read every entry of a queue,
	// so two at once would mostly conflict with each other and retry.
	claimMu sync.Mutex
}

const (
	spaceRecord   = 'r'
	spaceQueue    = 'q'
	spaceSeq      = 's'
	spaceQueueSeq = 'Q'
	seqLease      = 256
	maxRetries    = 64
)

// Open opens (or creates) the database.
func Open(o Options) (*Store, error) {
	db, err := badgerdb.Open(o.badgerOptions())
	if errors.Is(err, badgerdb.ErrEncryptionKeyMismatch) {
		return nil, fmt.Errorf("badger store: open %s: %w", o.Dir, store.ErrWrongKey)
	}
	if err != nil {
		return nil, fmt.Errorf("badger store: open: %w", err)
	}
	s := &Store{db: db, now: o.Now, backstop: o.Backstop, dir: o.Dir, raw: o.Raw, seqs: map[string]*badgerdb.Sequence{}, stop: make(chan struct{})}
	if s.now == nil || s.raw {
		s.now = time.Now
	}
	if s.backstop == 0 {
		s.backstop = 7 * 24 * time.Hour
	}
	if every := cmp.Or(o.PageOutEvery, DefaultPageOutEvery); pageOutSupported && !o.InMemory && every > 0 {
		s.startPageOut(every)
	}
	return s, nil
}

// startPageOut hands the mapped table pages back to the kernel every
// interval until Close.
func (s *Store) startPageOut(every time.Duration) {
	dir, err := filepath.Abs(s.dir)
	if err == nil {
		dir, err = filepath.EvalSymlinks(dir) // /proc/self/maps shows the resolved path
	}
	if err != nil {
		return // nothing found by this path would be paged out
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				pageOutTables(dir)
			}
		}
	}()
}

// logger forwards Badger's warnings and errors to slog.
type logger struct{ l *slog.Logger }

func (b logger) Errorf(f string, a ...any)   { b.l.Error(fmt.Sprintf(f, a...), "component", "badger") }
func (b logger) Warningf(f string, a ...any) { b.l.Warn(fmt.Sprintf(f, a...), "component", "badger") }
func (b logger) Infof(string, ...any)        {}
func (b logger) Debugf(string, ...any)       {}

// mapErr turns Badger's errors into the store's sentinels.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badgerdb.ErrConflict):
		return fmt.Errorf("badger store: %w", store.ErrConflict)
	case errors.Is(err, badgerdb.ErrDBClosed):
		return fmt.Errorf("badger store: %w", store.ErrClosed)
	}
	return err
}

// recordKey is the Badger key of a record.
func (s *Store) recordKey(k []byte) []byte {
	if s.raw {
		return k
	}
	return append([]byte{spaceRecord}, k...)
}

// keyOf is the record key of a Badger key.
func (s *Store) keyOf(bk []byte) []byte {
	if s.raw {
		return bk
	}
	return bk[1:]
}

// entry is the Badger entry of a record.
func (s *Store) entry(key, value []byte, exp, now time.Time) *badgerdb.Entry {
	if s.raw {
		e := badgerdb.NewEntry(key, value)
		if !exp.IsZero() {
			e.ExpiresAt = uint64(max(exp.Unix(), 1))
		}
		return e
	}
	e := badgerdb.NewEntry(s.recordKey(key), encodeRecord(value, exp))
	if !exp.IsZero() && s.backstop >= 0 {
		wall := time.Now().Add(exp.Sub(now) + s.backstop)
		e.ExpiresAt = uint64(max(wall.Unix(), 1))
	}
	return e
}

// record reads the record of a Badger item.
func (s *Store) record(item *badgerdb.Item) (store.Record, error) {
	var r store.Record
	err := item.Value(func(v []byte) error {
		if s.raw {
			r = store.Record{Key: item.KeyCopy(nil), Value: bytes.Clone(v)}
			if r.Value == nil {
				r.Value = []byte{}
			}
			if e := item.ExpiresAt(); e != 0 {
				r.ExpiresAt = time.Unix(int64(e), 0).UTC()
			}
			return nil
		}
		var err error
		r, err = decodeRecord(item.Key()[1:], v)
		return err
	})
	return r, err
}

func encodeRecord(v []byte, exp time.Time) []byte {
	b := make([]byte, 8, 8+len(v))
	if !exp.IsZero() {
		binary.BigEndian.PutUint64(b, uint64(exp.UnixNano()))
	}
	return append(b, v...)
}

func decodeRecord(key, b []byte) (store.Record, error) {
	if len(b) < 8 {
		return store.Record{}, fmt.Errorf("badger store: record header is %d bytes, want 8", len(b))
	}
	r := store.Record{Key: bytes.Clone(key), Value: bytes.Clone(b[8:])}
	if ns := binary.BigEndian.Uint64(b); ns != 0 {
		r.ExpiresAt = time.Unix(0, int64(ns)).UTC()
	}
	return r, nil
}

// txn adapts a Badger transaction.
type txn struct {
	s   *Store
	t   *badgerdb.Txn
	now time.Time
}

func (x *txn) Get(key []byte) (store.Record, error) {
	r, err := x.getRaw(key)
	if err == nil && store.Expired(r.ExpiresAt, x.now) {
		return store.Record{}, store.ErrNotFound
	}
	return r, err
}

func (x *txn) getRaw(key []byte) (store.Record, error) {
	item, err := x.t.Get(x.s.recordKey(key))
	if errors.Is(err, badgerdb.ErrKeyNotFound) {
		return store.Record{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, mapErr(err)
	}
	return x.s.record(item)
}

func (x *txn) Scan(prefix []byte, fn func(store.Record) error) error {
	err := x.scanAll(prefix, func(r store.Record) error {
		if store.Expired(r.ExpiresAt, x.now) {
			return nil
		}
		return fn(r)
	})
	if errors.Is(err, store.ErrStop) {
		return nil
	}
	return err
}

// scanAll visits every record under prefix, expired ones included.
func (x *txn) scanAll(prefix []byte, fn func(store.Record) error) error {
	p := x.s.recordKey(prefix)
	o := badgerdb.DefaultIteratorOptions
	// No prefetch: its goroutines cost more than they save on the short
	// scans of a turn (values are read in place either way).
	o.Prefix, o.PrefetchValues = p, false
	it := x.t.NewIterator(o)
	defer it.Close()
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		r, err := x.s.record(it.Item())
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (x *txn) Set(key, value []byte, exp time.Time) error {
	if value == nil {
		value = []byte{}
	}
	return mapErr(x.t.SetEntry(x.s.entry(key, value, exp, x.now)))
}

func (x *txn) Delete(key []byte) error { return mapErr(x.t.Delete(x.s.recordKey(key))) }

// View implements store.KV.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return mapErr(s.db.View(func(t *badgerdb.Txn) error { return fn(&txn{s: s, t: t, now: s.now()}) }))
}

func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("badger store: %w", store.ErrClosed)
	}
	return ctx.Err()
}

// Update implements store.KV.
func (s *Store) Update(ctx context.Context, fn func(store.Txn) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.dropMu.RLock()
	defer s.dropMu.RUnlock()
	return mapErr(s.db.Update(func(t *badgerdb.Txn) error { return fn(&txn{s: s, t: t, now: s.now()}) }))
}

// update is Update with conflict retries, for the store's own bookkeeping.
func (s *Store) update(ctx context.Context, fn func(*txn) error) error {
	return store.UpdateRetry(ctx, s, maxRetries, func(t store.Txn) error { return fn(t.(*txn)) })
}

// deleteBatch bounds the deletes of one DeleteExpired transaction, far
// below Badger's ErrTxnTooBig limit.
var deleteBatch = 10000

// DeleteExpired implements store.Purger, in transactions of at most
// deleteBatch deletes.
func (s *Store) DeleteExpired(ctx context.Context, prefix []byte) ([][]byte, error) {
	var all [][]byte
	for {
		var keys [][]byte
		err := s.update(ctx, func(x *txn) error {
			keys = keys[:0]
			err := x.scanAll(prefix, func(r store.Record) error {
				if store.Expired(r.ExpiresAt, x.now) {
					keys = append(keys, r.Key)
				}
				if len(keys) == deleteBatch {
					return store.ErrStop
				}
				return nil
			})
			if err != nil && !errors.Is(err, store.ErrStop) {
				return err
			}
			for _, k := range keys {
				if err := x.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("badger store: delete expired: %w", err)
		}
		all = append(all, keys...)
		if len(keys) < deleteBatch {
			return all, nil
		}
	}
}

// Purge implements store.Purger with DropPrefix, which rewrites the tables
// holding the prefixes and so removes every version of their keys and
// values. DropPrefix skips a prefix with no live key, so Purge first writes
// a marker under each prefix (the prefix itself as a key), which the drop
// removes with the rest.
func (s *Store) Purge(ctx context.Context, prefixes ...[]byte) error {
	if len(prefixes) == 0 {
		return nil
	}
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	drop := make([][]byte, len(prefixes))
	err := s.db.Update(func(t *badgerdb.Txn) error {
		for i, p := range prefixes {
			drop[i] = bytes.Clone(s.recordKey(p))
			if err := t.SetEntry(s.entry(p, []byte{}, time.Time{}, time.Time{})); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.db.DropPrefix(drop...)
	}
	if err != nil {
		return fmt.Errorf("badger store: purge: %w", mapErr(err))
	}
	return nil
}

// NextSeq implements store.Sequences with a Badger sequence that leases
// blocks of 256: a crash skips the rest of the block.
func (s *Store) NextSeq(ctx context.Context, name string) (uint64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	if s.raw {
		return s.next([]byte(name))
	}
	return s.next(append([]byte{spaceSeq}, name...))
}

func (s *Store) next(key []byte) (uint64, error) {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	seq, ok := s.seqs[string(key)]
	if !ok {
		var err error
		if seq, err = s.db.GetSequence(key, seqLease); err != nil {
			return 0, fmt.Errorf("badger store: sequence: %w", mapErr(err))
		}
		s.seqs[string(key)] = seq
	}
	for {
		n, err := seq.Next()
		if err != nil {
			return 0, fmt.Errorf("badger store: sequence: %w", mapErr(err))
		}
		if n > 0 { // Badger sequences start at 0; 0 stays "none"
			return n, nil
		}
	}
}

// Sync implements store.Store.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return mapErr(s.db.Sync())
}

// Close implements store.Store: releases the sequences' unused blocks and
// closes the database.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	s.dropMu.Lock() // wait for running writes
	defer s.dropMu.Unlock()
	s.seqMu.Lock()
	var first error
	for k, seq := range s.seqs {
		if err := seq.Release(); err != nil && first == nil {
			first = err
		}
		delete(s.seqs, k)
	}
	s.seqMu.Unlock()
	if err := s.db.Close(); err != nil && first == nil {
		first = err
	}
	return mapErr(first)
}
