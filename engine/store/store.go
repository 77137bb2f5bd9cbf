// Package store declares the small transactional storage interfaces that
// Parley's privacy layer (engine/vault) is written against, so that the same
// vault runs on the embedded Badger database or on PostgreSQL.
//
// A backend (engine/store/badger, engine/store/postgres) implements Store;
// nothing above this package knows which one is in use. Every backend passes
// the conformance suite in engine/store/storetest.
//
// Values, keys, queue names and partition keys are opaque bytes and strings
// to a backend. The vault seals every value that says something about a
// person before it reaches a backend, and keys, queue names and partition
// keys hold pseudonyms only: a backend never sees plaintext personal data,
// and its own encryption at rest is a second layer, not the first.
//
// Time: every expiry and lease is judged by the clock the backend was opened
// with (an injected func() time.Time), never by a database server's clock,
// so tests move time by hand and several instances agree as far as their
// clocks agree.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// Errors callers branch on with errors.Is. A backend wraps its own errors
// with these where they apply; none of them carries a key or a value.
var (
	// ErrNotFound: no such key, or its record has expired.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the transaction could not be serialized with a concurrent
	// one and was rolled back; nothing it wrote is visible. Run it again.
	ErrConflict = errors.New("store: transaction conflict, retry it")
	// ErrLeaseLost: the queue lease has expired or another claimer holds
	// the partition now; the entry may be (or have been) worked on elsewhere.
	ErrLeaseLost = errors.New("store: queue lease expired or taken over")
	// ErrWrongKey: the backend's encryption key (at rest) does not open the
	// existing data; the data is left as it was.
	ErrWrongKey = errors.New("store: the encryption key does not open the existing data")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrStop, returned by a Scan callback, ends the scan early; Scan then
	// returns nil.
	ErrStop = errors.New("store: stop scan")
)

// Record is one key and its value. ExpiresAt zero means it never expires.
type Record struct {
	Key       []byte
	Value     []byte
	ExpiresAt time.Time
}

// Reader reads inside a transaction. Records whose ExpiresAt is at or before
// the store clock's now are invisible: Get says ErrNotFound and Scan skips
// them, whether or not the backend has removed them yet.
//
// The byte slices a Reader returns belong to the caller.
type Reader interface {
	// Get returns the record stored under key, or ErrNotFound.
	Get(key []byte) (Record, error)
	// Scan calls fn for every live record whose key starts with prefix, in
	// ascending byte order of the keys, including the writes made earlier in
	// the same transaction. An error from fn stops the scan and is returned
	// (ErrStop: Scan returns nil). An empty prefix scans everything.
	Scan(prefix []byte, fn func(Record) error) error
	// ScanQueue calls fn for every entry of queue not yet acked, leased or
	// not, in Seq order (listing pending work, counting a subject's entries
	// for an erasure receipt). Errors as for Scan.
	ScanQueue(queue string, fn func(Entry) error) error
}

// Entry is a queue entry as ScanQueue lists it.
type Entry struct {
	Queue     string
	Partition string
	Seq       uint64
	Payload   []byte
	// Attempts counts the claims so far.
	Attempts int
	// NotBefore is when the entry is due again after a Release (zero: due).
	NotBefore time.Time
}

// Txn is a read-write transaction: all of its writes become visible
// together when the function given to KV.Update returns nil, or none do.
type Txn interface {
	Reader
	// Set stores value under key (replacing what was there), expiring at
	// expiresAt (zero: never). A nil value is stored as an empty one.
	Set(key, value []byte, expiresAt time.Time) error
	// Delete removes key; deleting a missing key is not an error. Old
	// versions may survive in the backend's files until Purger.Purge.
	Delete(key []byte) error
	// Enqueue appends payload to queue under partition and returns its
	// sequence number, unique in the queue and increasing in the order of
	// Enqueue calls within one process. The entry becomes claimable when the
	// transaction commits.
	Enqueue(queue, partition string, payload []byte) (uint64, error)
	// Ack removes the leased entry and frees its partition, in this
	// transaction: a turn commits its state, its outbox entries and the ack
	// of its inbound message together. ErrLeaseLost when the lease has
	// expired by the store clock or was taken over; the caller must then
	// return the error so that nothing of the turn is committed.
	Ack(l Lease) error
	// DeletePartition removes every entry of partition in queue, and its
	// lease (an erasure); it returns how many entries it removed. A lease
	// holder's later Ack fails with ErrLeaseLost.
	DeletePartition(queue, partition string) (int, error)
}

// KV runs transactions.
//
// Isolation: transactions are serializable with respect to each other. A
// transaction that read or wrote a key that a concurrent transaction wrote
// and committed first fails at commit with ErrConflict (no lost updates, no
// write skew); a backend may report conflicts more eagerly than strictly
// needed. View transactions see one consistent snapshot and never conflict.
type KV interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil. An error from fn rolls back and is returned as is.
	// Update does not retry ErrConflict; see UpdateRetry.
	Update(ctx context.Context, fn func(Txn) error) error
}

// Purger removes data for good.
type Purger interface {
	// DeleteExpired deletes every record under prefix that has expired by the
	// store clock and returns their keys (ascending). Like Txn.Delete it is
	// logical: pass the keys (or their prefixes) to Purge to remove old
	// versions from the files.
	DeleteExpired(ctx context.Context, prefix []byte) ([][]byte, error)
	// Purge deletes every record whose key starts with one of prefixes and
	// makes every version of them physically unreadable in the backend's
	// files: after Purge returns, someone holding the data files (and any
	// backend encryption key) cannot read them. What each backend still
	// leaves (write-ahead logs, freed disk blocks) is in docs/storage.md.
	// Purge is expensive (it rewrites files): batch prefixes.
	Purge(ctx context.Context, prefixes ...[]byte) error
}

// Sequences hands out numbers, e.g. consent record ids.
type Sequences interface {
	// NextSeq returns a number unique for name, greater than every number
	// NextSeq returned before for name in this process; numbers are never
	// reused, even after a crash, but may skip.
	NextSeq(ctx context.Context, name string) (uint64, error)
}

// Lease is one claimed queue entry. Payload and Attempts are as of the claim.
type Lease struct {
	Queue     string
	Partition string
	Seq       uint64
	Payload   []byte
	// Attempts counts the claims of this entry, this one included: more
	// than 1 means an earlier claimer may have worked on it (a crash, an
	// expired lease).
	Attempts int
	// Token identifies this claim; Ack, Extend and Release check it.
	Token string
	// ExpiresAt is when the lease ends by the store clock; after it the
	// partition can be claimed again, by anyone.
	ExpiresAt time.Time
}

// Queues are durable work queues shared by every process that opens the
// same store. Entries of one partition (a conversation, a customer) are
// handed out one at a time in Seq order: while one is leased, no claimer
// gets any entry of that partition, and the next entry is handed out only
// after the leased one was acked, released, or its lease expired. So two
// instances never work on the same conversation at once while their leases
// hold, and a crashed claimer's entry is claimed again (Attempts+1) once its
// lease expires.
type Queues interface {
	// Claim leases up to max entries of queue, at most one per partition,
	// oldest partition heads first, skipping partitions that are leased or
	// whose head entry is not due (Release with notBefore). Each lease lasts
	// d by the store clock. owner names the claimer in diagnostics only.
	Claim(ctx context.Context, queue, owner string, max int, d time.Duration) ([]Lease, error)
	// Extend pushes the lease's end to now+d and returns the updated lease,
	// or ErrLeaseLost.
	Extend(ctx context.Context, l Lease, d time.Duration) (Lease, error)
	// Release gives the entry back without removing it (a failed attempt):
	// its partition is free, and the entry is due again at notBefore (zero:
	// now). ErrLeaseLost when the lease was lost.
	Release(ctx context.Context, l Lease, notBefore time.Time) error
}

// Ledger is what a backend without a data directory offers in its place:
// a small key-value table apart from the records, written at once (each
// call durable on its own). The vault keeps its erasure ledger and audit
// head there, the roles erasures.log and audit.head play beside a Badger
// data directory. It is outside the records on purpose: a restore of an
// older copy of the records (a dump) leaves it, and the vault then
// re-applies every erasure it lists. Keys and values hold pseudonyms only.
// A backend implements it optionally (PostgreSQL does); the vault uses it
// when present.
type Ledger interface {
	// LedgerPut stores value under key, replacing what was there.
	LedgerPut(ctx context.Context, key, value []byte) error
	// LedgerDelete removes key; a missing key is not an error.
	LedgerDelete(ctx context.Context, key []byte) error
	// LedgerScan calls fn for every entry, in ascending key order.
	LedgerScan(ctx context.Context, fn func(key, value []byte) error) error
}

// Compactor is implemented by a backend whose deleted records stay in its
// files until they are rewritten (PostgreSQL's dead tuples until VACUUM
// FULL). Purge compacts by itself; the vault calls Compact after a sweep
// deleted records that hold sealed content (an incident after its five
// years), so they do not wait for the next erasure's purge.
type Compactor interface {
	// Compact rewrites the files so that no deleted record is left in them.
	Compact(ctx context.Context) error
}

// Store is everything a backend provides.
type Store interface {
	KV
	Purger
	Sequences
	Queues
	// Sync forces every committed write to stable storage (a no-op where
	// every commit already is).
	Sync(ctx context.Context) error
	// Close releases the store; later calls fail with ErrClosed.
	Close() error
}

// UpdateRetry runs kv.Update until it does not fail with ErrConflict, at
// most attempts times, and returns the last error.
func UpdateRetry(ctx context.Context, kv KV, attempts int, fn func(Txn) error) error {
	var err error
	for range max(attempts, 1) {
		if err = kv.Update(ctx, fn); !errors.Is(err, ErrConflict) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}

// PrefixEnd returns the smallest key greater than every key starting with
// prefix, or nil when there is none (prefix empty or all 0xff): the
// exclusive upper bound of a prefix range.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Expired reports whether a record expiring at exp is gone at now.
func Expired(exp, now time.Time) bool { return !exp.IsZero() && !exp.After(now) }

// NewLeaseToken returns a random token for a Lease.
func NewLeaseToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
