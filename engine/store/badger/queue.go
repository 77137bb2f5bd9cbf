package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/parleyhq/parley/engine/store"
)

// entry is a queue entry's value.
type entry struct {
	attempts  uint32
	notBefore int64 // Unix ns, 0: due now
	partition string
	payload   []byte
}

func (e entry) encode() []byte {
	b := make([]byte, 0, 14+len(e.partition)+len(e.payload))
	b = binary.BigEndian.AppendUint32(b, e.attempts)
	b = binary.BigEndian.AppendUint64(b, uint64(e.notBefore))
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.partition)))
	b = append(b, e.partition...)
	return append(b, e.payload...)
}

func decodeEntry(b []byte) (entry, error) {
	if len(b) < 14 || len(b) < 14+int(binary.BigEndian.Uint16(b[12:])) {
		return entry{}, errors.New("badger store: damaged queue entry")
	}
	n := int(binary.BigEndian.Uint16(b[12:]))
	return entry{
		attempts:  binary.BigEndian.Uint32(b),
		notBefore: int64(binary.BigEndian.Uint64(b[4:])),
		partition: string(b[14 : 14+n]),
		payload:   bytes.Clone(b[14+n:]),
	}, nil
}

// lease is a partition lease's value.
type lease struct {
	expires int64 // Unix ns
	seq     uint64
	token   string
}

func (l lease) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(l.expires))
	b = binary.BigEndian.AppendUint64(b, l.seq)
	return append(b, l.token...)
}

func decodeLease(b []byte) (lease, error) {
	if len(b) < 16 {
		return lease{}, errors.New("badger store: damaged queue lease")
	}
	return lease{int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint64(b[8:]), string(b[16:])}, nil
}

func queuePrefix(q string) []byte { return append(append([]byte{spaceQueue}, q...), 0) }

func itemKey(q string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(queuePrefix(q), 'i'), seq)
}

func leaseKey(q, partition string) []byte {
	return append(append(queuePrefix(q), 'l'), partition...)
}

func getValue(t *badgerdb.Txn, key []byte) ([]byte, error) {
	item, err := t.Get(key)
	if errors.Is(err, badgerdb.ErrKeyNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Enqueue implements store.Txn.
func (x *txn) Enqueue(queue, partition string, payload []byte) (uint64, error) {
	if len(partition) > 0xffff {
		return 0, errors.New("badger store: partition key longer than 65535 bytes")
	}
	seq, err := x.s.next(append([]byte{spaceQueueSeq}, queue...))
	if err != nil {
		return 0, err
	}
	e := entry{partition: partition, payload: payload}
	return seq, mapErr(x.t.Set(itemKey(queue, seq), e.encode()))
}

// holding returns the lease of l's partition when l still holds it.
func (x *txn) holding(l store.Lease) (lease, error) {
	b, err := getValue(x.t, leaseKey(l.Queue, l.Partition))
	if errors.Is(err, store.ErrNotFound) {
		return lease{}, store.ErrLeaseLost
	}
	if err != nil {
		return lease{}, mapErr(err)
	}
	cur, err := decodeLease(b)
	if err != nil {
		return lease{}, err
	}
	if cur.token != l.Token || cur.seq != l.Seq || cur.expires <= x.now.UnixNano() {
		return lease{}, store.ErrLeaseLost
	}
	return cur, nil
}

// Ack implements store.Txn.
func (x *txn) Ack(l store.Lease) error {
	if _, err := x.holding(l); err != nil {
		return err
	}
	if err := x.t.Delete(leaseKey(l.Queue, l.Partition)); err != nil {
		return mapErr(err)
	}
	return mapErr(x.t.Delete(itemKey(l.Queue, l.Seq)))
}

// Claim implements store.Queues. It walks the queue in seq order; the
// first entry seen of each partition is its head. Leases are keys read and
// written in the claiming transaction, so two concurrent claims of one
// partition conflict and only one commits.
func (s *Store) Claim(ctx context.Context, queue, owner string, max int, d time.Duration) ([]store.Lease, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	var out []store.Lease
	err := s.update(ctx, func(x *txn) error {
		out = out[:0]
		now := x.now.UnixNano()
		seen := map[string]bool{}
		err := x.scanItems(queue, func(seq uint64, e entry) error {
			if len(out) >= max {
				return store.ErrStop
			}
			if seen[e.partition] {
				return nil
			}
			seen[e.partition] = true
			if e.notBefore > now {
				return nil
			}
			lk := leaseKey(queue, e.partition)
			if lb, err := getValue(x.t, lk); err == nil {
				if cur, err := decodeLease(lb); err != nil || cur.expires > now {
					return nil
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			e.attempts++
			l := lease{expires: x.now.Add(d).UnixNano(), seq: seq, token: store.NewLeaseToken()}
			if err := x.t.Set(lk, l.encode()); err != nil {
				return err
			}
			if err := x.t.Set(itemKey(queue, seq), e.encode()); err != nil {
				return err
			}
			out = append(out, store.Lease{
				Queue: queue, Partition: e.partition, Seq: seq, Payload: e.payload,
				Attempts: int(e.attempts), Token: l.token, ExpiresAt: time.Unix(0, l.expires).UTC(),
			})
			return nil
		})
		if errors.Is(err, store.ErrStop) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("badger store: claim from %s for %s: %w", queue, owner, err)
	}
	return out, nil
}

// Extend implements store.Queues.
func (s *Store) Extend(ctx context.Context, l store.Lease, d time.Duration) (store.Lease, error) {
	err := s.update(ctx, func(x *txn) error {
		cur, err := x.holding(l)
		if err != nil {
			return err
		}
		cur.expires = x.now.Add(d).UnixNano()
		l.ExpiresAt = time.Unix(0, cur.expires).UTC()
		return x.t.Set(leaseKey(l.Queue, l.Partition), cur.encode())
	})
	if err != nil {
		return store.Lease{}, fmt.Errorf("badger store: extend lease: %w", err)
	}
	return l, nil
}

// Release implements store.Queues.
func (s *Store) Release(ctx context.Context, l store.Lease, notBefore time.Time) error {
	err := s.update(ctx, func(x *txn) error {
		if _, err := x.holding(l); err != nil {
			return err
		}
		b, err := getValue(x.t, itemKey(l.Queue, l.Seq))
		if err != nil {
			return err
		}
		e, err := decodeEntry(b)
		if err != nil {
			return err
		}
		e.notBefore = 0
		if !notBefore.IsZero() {
			e.notBefore = notBefore.UnixNano()
		}
		if err := x.t.Set(itemKey(l.Queue, l.Seq), e.encode()); err != nil {
			return err
		}
		return x.t.Delete(leaseKey(l.Queue, l.Partition))
	})
	if err != nil {
		return fmt.Errorf("badger store: release lease: %w", err)
	}
	return nil
}

// scanItems calls fn with the seq and entry of every item of queue, in seq order.
func (x *txn) scanItems(queue string, fn func(seq uint64, e entry) error) error {
	p := append(queuePrefix(queue), 'i')
	o := badgerdb.DefaultIteratorOptions
	o.Prefix = p
	it := x.t.NewIterator(o)
	defer it.Close()
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		b, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		e, err := decodeEntry(b)
		if err != nil {
			return err
		}
		if err := fn(binary.BigEndian.Uint64(it.Item().Key()[len(p):]), e); err != nil {
			return err
		}
	}
	return nil
}

// ScanQueue implements store.Reader.
func (x *txn) ScanQueue(queue string, fn func(store.Entry) error) error {
	err := x.scanItems(queue, func(seq uint64, e entry) error {
		se := store.Entry{Queue: queue, Partition: e.partition, Seq: seq, Payload: e.payload, Attempts: int(e.attempts)}
		if e.notBefore != 0 {
			se.NotBefore = time.Unix(0, e.notBefore).UTC()
		}
		return fn(se)
	})
	if errors.Is(err, store.ErrStop) {
		return nil
	}
	return mapErr(err)
}

// DeletePartition implements store.Txn.
func (x *txn) DeletePartition(queue, partition string) (int, error) {
	var seqs []uint64
	err := x.scanItems(queue, func(seq uint64, e entry) error {
		if e.partition == partition {
			seqs = append(seqs, seq)
		}
		return nil
	})
	if err != nil {
		return 0, mapErr(err)
	}
	for _, seq := range seqs {
		if err := x.t.Delete(itemKey(queue, seq)); err != nil {
			return 0, mapErr(err)
		}
	}
	return len(seqs), mapErr(x.t.Delete(leaseKey(queue, partition)))
}
