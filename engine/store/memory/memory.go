// Package memory implements store.Store in the memory of one process: the
// third backend, after engine/store/badger and engine/store/postgres. It
// exists to show (and to test) that a backend is one package: it implements
// the engine/store interfaces, passes the storetest conformance suite and
// registers itself under the name "memory", and nothing else in the module
// changes for the vault and the host to run on it (see memory_test.go and
// docs/storage.md "Adding a backend"). It keeps nothing on disk, so it is
// for tests and demonstrations, not for customers' data.
//
// Isolation is optimistic: a transaction reads the snapshot of its start
// (every record keeps its versions, numbered by commit) and at commit fails
// with store.ErrConflict when a record it read, scanned or wrote was
// committed by another transaction meanwhile. Old versions stay until
// Purge, as a log-structured backend's files keep them; Raw shows them.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

var (
	_ store.Store  = (*Store)(nil)
	_ store.Ledger = (*Store)(nil)
)

// Name is the name the backend is registered under: store.OpenURL opens
// "memory://…" (a new, empty store each time) here.
const Name = "memory"

func init() {
	store.Register(Name, func(_ context.Context, c store.Config) (store.Store, error) { return New(c.Now), nil })
}

// version is one committed state of a record.
type version struct {
	commit  uint64
	value   []byte
	exp     time.Time
	deleted bool
}

// entry is one queue entry not yet acked.
type entry struct {
	partition string
	seq       uint64
	payload   []byte
	attempts  int
	notBefore time.Time
}

// lease is the claim of a partition.
type lease struct {
	token string
	seq   uint64
	exp   time.Time
}

type queue struct {
	entries map[uint64]*entry
	leases  map[string]lease // by partition
}

// Store is an in-memory store.Store. Safe for concurrent use.
type Store struct {
	now func() time.Time

	mu       sync.Mutex
	closed   bool
	commit   uint64               // number of the last commit
	recs     map[string][]version // oldest first
	queues   map[string]*queue
	enqueued uint64 // last Enqueue number, every queue
	seqs     map[string]uint64
	ledger   map[string][]byte
}

// New returns an empty store whose clock is now (time.Now when nil).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, recs: map[string][]version{}, queues: map[string]*queue{}, seqs: map[string]uint64{}, ledger: map[string][]byte{}}
}

// usable fails when the store is closed or ctx is done; the caller holds mu.
func (s *Store) usable(ctx context.Context) error {
	if s.closed {
		return store.ErrClosed
	}
	return ctx.Err()
}

// at returns key's version as of commit (nil: none); the caller holds mu.
func (s *Store) at(key string, commit uint64) *version {
	vs := s.recs[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].commit <= commit {
			return &vs[i]
		}
	}
	return nil
}

// latest is the commit that last changed key (0: never).
func (s *Store) latest(key string) uint64 {
	if vs := s.recs[key]; len(vs) > 0 {
		return vs[len(vs)-1].commit
	}
	return 0
}

func (s *Store) queue(name string) *queue {
	q := s.queues[name]
	if q == nil {
		q = &queue{entries: map[uint64]*entry{}, leases: map[string]lease{}}
		s.queues[name] = q
	}
	return q
}

// held reports whether l still holds its partition at now; the caller
// holds mu.
func (s *Store) held(l store.Lease, now time.Time) bool {
	q := s.queues[l.Queue]
	if q == nil {
		return false
	}
	cur, ok := q.leases[l.Partition]
	return ok && cur.token == l.Token && cur.seq == l.Seq && !store.Expired(cur.exp, now) && q.entries[l.Seq] != nil
}

// txn is a transaction: the snapshot it reads, what it read, and what it
// will write at commit.
type txn struct {
	s      *Store
	start  uint64
	reads  map[string]bool
	scans  []string
	writes map[string]version
	ops    []func(now time.Time) // queue changes, applied in order at commit
	acks   []store.Lease
	parts  map[string]bool // queue\x00partition deleted in this transaction
	enq    []store.Entry   // enqueued in this transaction
}

func (x *txn) visible(v version, now time.Time) bool { return !v.deleted && !store.Expired(v.exp, now) }

func (x *txn) Get(key []byte) (store.Record, error) {
	k := string(key)
	now := x.s.now()
	x.reads[k] = true
	v, ok := x.writes[k]
	if !ok {
		x.s.mu.Lock()
		p := x.s.at(k, x.start)
		x.s.mu.Unlock()
		if p == nil {
			return store.Record{}, store.ErrNotFound
		}
		v = *p
	}
	if !x.visible(v, now) {
		return store.Record{}, store.ErrNotFound
	}
	return store.Record{Key: bytes.Clone(key), Value: bytes.Clone(v.value), ExpiresAt: v.exp}, nil
}

func (x *txn) Scan(prefix []byte, fn func(store.Record) error) error {
	p := string(prefix)
	now := x.s.now()
	x.scans = append(x.scans, p)
	var recs []store.Record
	x.s.mu.Lock()
	for k := range x.s.recs {
		if _, own := x.writes[k]; !own && strings.HasPrefix(k, p) {
			if v := x.s.at(k, x.start); v != nil && x.visible(*v, now) {
				recs = append(recs, store.Record{Key: []byte(k), Value: bytes.Clone(v.value), ExpiresAt: v.exp})
			}
		}
	}
	x.s.mu.Unlock()
	for k, v := range x.writes {
		if strings.HasPrefix(k, p) && x.visible(v, now) {
			recs = append(recs, store.Record{Key: []byte(k), Value: bytes.Clone(v.value), ExpiresAt: v.exp})
		}
	}
	slices.SortFunc(recs, func(a, b store.Record) int { return bytes.Compare(a.Key, b.Key) })
	for _, r := range recs {
		if err := fn(r); err == store.ErrStop {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (x *txn) ScanQueue(queue string, fn func(store.Entry) error) error {
	var es []store.Entry
	x.s.mu.Lock()
	if q := x.s.queues[queue]; q != nil {
		for _, e := range q.entries {
			if !x.parts[queue+"\x00"+e.partition] {
				es = append(es, store.Entry{Queue: queue, Partition: e.partition, Seq: e.seq, Payload: bytes.Clone(e.payload), Attempts: e.attempts, NotBefore: e.notBefore})
			}
		}
	}
	x.s.mu.Unlock()
	for _, e := range x.enq {
		if e.Queue == queue {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b store.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, e := range es {
		if err := fn(e); err == store.ErrStop {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (x *txn) Set(key, value []byte, expiresAt time.Time) error {
	x.writes[string(key)] = version{value: bytes.Clone(value), exp: expiresAt}
	return nil
}

func (x *txn) Delete(key []byte) error {
	x.writes[string(key)] = version{deleted: true}
	return nil
}

func (x *txn) Enqueue(queue, partition string, payload []byte) (uint64, error) {
	x.s.mu.Lock()
	x.s.enqueued++
	seq := x.s.enqueued
	x.s.mu.Unlock()
	e := &entry{partition: partition, seq: seq, payload: bytes.Clone(payload)}
	x.enq = append(x.enq, store.Entry{Queue: queue, Partition: partition, Seq: seq, Payload: e.payload})
	x.ops = append(x.ops, func(time.Time) { x.s.queue(queue).entries[seq] = e })
	return seq, nil
}

func (x *txn) Ack(l store.Lease) error {
	x.s.mu.Lock()
	ok := x.s.held(l, x.s.now())
	x.s.mu.Unlock()
	if !ok {
		return store.ErrLeaseLost
	}
	x.acks = append(x.acks, l)
	x.ops = append(x.ops, func(time.Time) {
		q := x.s.queue(l.Queue)
		delete(q.entries, l.Seq)
		delete(q.leases, l.Partition)
	})
	return nil
}

func (x *txn) DeletePartition(queue, partition string) (int, error) {
	n := 0
	x.s.mu.Lock()
	if q := x.s.queues[queue]; q != nil && !x.parts[queue+"\x00"+partition] {
		for _, e := range q.entries {
			if e.partition == partition {
				n++
			}
		}
	}
	x.s.mu.Unlock()
	kept := x.enq[:0]
	for _, e := range x.enq {
		if e.Queue == queue && e.Partition == partition {
			n++
		} else {
			kept = append(kept, e)
		}
	}
	x.enq = kept
	x.parts[queue+"\x00"+partition] = true
	x.ops = append(x.ops, func(time.Time) {
		q := x.s.queue(queue)
		for seq, e := range q.entries {
			if e.partition == partition {
				delete(q.entries, seq)
			}
		}
		delete(q.leases, partition)
	})
	return n, nil
}

func (s *Store) begin(ctx context.Context) (*txn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return &txn{s: s, start: s.commit, reads: map[string]bool{}, writes: map[string]version{}, parts: map[string]bool{}}, nil
}

// View runs fn on the snapshot of now.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	x, err := s.begin(ctx)
	if err != nil {
		return err
	}
	return fn(x)
}

// Update runs fn and commits what it wrote, or fails with ErrConflict when
// another transaction committed a record fn read, scanned or wrote since fn
// began.
func (s *Store) Update(ctx context.Context, fn func(store.Txn) error) error {
	x, err := s.begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(x); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	for k := range x.reads {
		if s.latest(k) > x.start {
			return store.ErrConflict
		}
	}
	for k := range x.writes {
		if s.latest(k) > x.start {
			return store.ErrConflict
		}
	}
	if len(x.scans) > 0 {
		for k, vs := range s.recs {
			if vs[len(vs)-1].commit > x.start && slices.ContainsFunc(x.scans, func(p string) bool { return strings.HasPrefix(k, p) }) {
				return store.ErrConflict
			}
		}
	}
	now := s.now()
	for _, l := range x.acks {
		if !s.held(l, now) {
			return store.ErrLeaseLost
		}
	}
	if len(x.writes) > 0 {
		s.commit++
		for k, v := range x.writes {
			v.commit = s.commit
			s.recs[k] = append(s.recs[k], v)
		}
	}
	for _, op := range x.ops {
		op(now)
	}
	return nil
}

// DeleteExpired deletes the records under prefix that have expired by the
// store clock; their old versions stay until Purge.
func (s *Store) DeleteExpired(ctx context.Context, prefix []byte) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	var keys [][]byte
	for k, vs := range s.recs {
		if v := vs[len(vs)-1]; strings.HasPrefix(k, string(prefix)) && !v.deleted && store.Expired(v.exp, now) {
			keys = append(keys, []byte(k))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	s.commit++
	for _, k := range keys {
		s.recs[string(k)] = append(s.recs[string(k)], version{commit: s.commit, deleted: true})
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys, nil
}

// Purge drops every version of the records under prefixes, leaving one
// delete marker each (no value) so that transactions that read them
// conflict.
func (s *Store) Purge(ctx context.Context, prefixes ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.commit++
	for k := range s.recs {
		if slices.ContainsFunc(prefixes, func(p []byte) bool { return strings.HasPrefix(k, string(p)) }) {
			s.recs[k] = []version{{commit: s.commit, deleted: true}}
		}
	}
	return nil
}

// NextSeq returns the next number of name, from 1.
func (s *Store) NextSeq(ctx context.Context, name string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	s.seqs[name]++
	return s.seqs[name], nil
}

// Claim leases the due heads of up to max free partitions, oldest first.
func (s *Store) Claim(ctx context.Context, queue, owner string, max int, d time.Duration) ([]store.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	q := s.queue(queue)
	heads := map[string]*entry{}
	for _, e := range q.entries {
		if h := heads[e.partition]; h == nil || e.seq < h.seq {
			heads[e.partition] = e
		}
	}
	var due []*entry
	for p, e := range heads {
		if l, ok := q.leases[p]; ok && !store.Expired(l.exp, now) {
			continue
		}
		if e.notBefore.After(now) {
			continue
		}
		due = append(due, e)
	}
	slices.SortFunc(due, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	var out []store.Lease
	for _, e := range due[:min(max, len(due))] {
		e.attempts++
		e.notBefore = time.Time{}
		l := lease{token: store.NewLeaseToken(), seq: e.seq, exp: now.Add(d)}
		q.leases[e.partition] = l
		out = append(out, store.Lease{Queue: queue, Partition: e.partition, Seq: e.seq, Payload: bytes.Clone(e.payload),
			Attempts: e.attempts, Token: l.token, ExpiresAt: l.exp})
	}
	return out, nil
}

// Extend moves the lease's end to now+d.
func (s *Store) Extend(ctx context.Context, l store.Lease, d time.Duration) (store.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return l, err
	}
	now := s.now()
	if !s.held(l, now) {
		return l, store.ErrLeaseLost
	}
	l.ExpiresAt = now.Add(d)
	q := s.queues[l.Queue]
	q.leases[l.Partition] = lease{token: l.Token, seq: l.Seq, exp: l.ExpiresAt}
	return l, nil
}

// Release frees the partition; the entry is due again at notBefore.
func (s *Store) Release(ctx context.Context, l store.Lease, notBefore time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	if !s.held(l, s.now()) {
		return store.ErrLeaseLost
	}
	q := s.queues[l.Queue]
	delete(q.leases, l.Partition)
	q.entries[l.Seq].notBefore = notBefore
	return nil
}

// LedgerPut stores value under key in the ledger, apart from the records.
func (s *Store) LedgerPut(ctx context.Context, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.ledger[string(key)] = bytes.Clone(value)
	return nil
}

// LedgerDelete removes key from the ledger.
func (s *Store) LedgerDelete(ctx context.Context, key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	delete(s.ledger, string(key))
	return nil
}

// LedgerScan calls fn for every ledger entry, keys ascending.
func (s *Store) LedgerScan(ctx context.Context, fn func(key, value []byte) error) error {
	s.mu.Lock()
	if err := s.usable(ctx); err != nil {
		s.mu.Unlock()
		return err
	}
	keys := make([]string, 0, len(s.ledger))
	for k := range s.ledger {
		keys = append(keys, k)
	}
	vals := make([][]byte, len(keys))
	slices.Sort(keys)
	for i, k := range keys {
		vals[i] = bytes.Clone(s.ledger[k])
	}
	s.mu.Unlock()
	for i, k := range keys {
		if err := fn([]byte(k), vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// Sync does nothing: nothing is on disk.
func (s *Store) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usable(ctx)
}

// Close ends the store; later calls fail with store.ErrClosed. Closing
// twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Raw returns every byte the store holds, as someone reading the process's
// memory would: every version of every record (deleted and expired ones
// until Purge), the queues and the ledger.
func (s *Store) Raw() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for k, vs := range s.recs {
		for _, v := range vs {
			b.WriteString(k)
			b.Write(v.value)
		}
	}
	for name, q := range s.queues {
		for _, e := range q.entries {
			b.WriteString(name + e.partition)
			b.Write(e.payload)
		}
	}
	for k, v := range s.ledger {
		b.WriteString(k)
		b.Write(v)
	}
	return b.Bytes()
}
