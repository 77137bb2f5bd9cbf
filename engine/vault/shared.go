package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Work shared between instances. On a store (PostgreSQL) several `parley
// serve` processes open the same vault, so the inbox and the outbox are
// also store queues: every pending inbox entry (iq/<seq>) and outbox entry
// (out/<seq>) has a queue entry, written in the same transaction, in the
// queue QueueInbox or QueueOutbox, partitioned by subject. A process claims
// a subject's oldest entry with a lease (store.Queues.Claim); while the
// lease holds nobody else gets any entry of that subject, so one
// conversation's turns never run in two instances at once and its replies
// go out in commit order. The turn that processes an inbound message acks
// its lease in the commit (Change.Ack), and a reply's acknowledgement acks
// its lease (OutboxAck.Lease): a turn whose lease was lost meanwhile
// commits nothing. A process that dies leaves its leases to expire; the
// next claimer takes the entry over, with Attempts telling it so.
//
// The queue entry carries only the seq of its record; the sealed payload
// stays in the record, under the subject's key and a transient key, as for
// one process. Partition keys are subject pseudonyms. On Badger the vault
// belongs to one process (its lock file) and no queue entry is written.

// Store queue names of the shared inbox and outbox.
const (
	QueueInbox  = "inbox"
	QueueOutbox = "outbox"
)

// Shared reports whether several processes may serve this vault at once
// (it runs on a store): the inbox and outbox are then worked through
// ClaimInbox and ClaimOutbox.
func (v *Vault) Shared() bool { return v.st != nil && !v.embedded() }

// enqueueWork adds the queue entry of record seq in a store transaction
// (nothing on the embedded Badger, where one process owns the inbox).
func enqueueWork(txn kvTxn, queue string, s SubjectID, seq uint64) error {
	if txn.t == nil || !txn.shared {
		return nil
	}
	var e enc
	e.uint(seq)
	_, err := txn.t.Enqueue(queue, string(s), e.b)
	return err
}

// dropWork deletes the subject's window record and, on a store, queue
// entries and leases (an erasure); the inbox and outbox records are
// deleted by the caller.
func dropWork(txn kvTxn, s SubjectID) error {
	if err := txn.Delete(keyWN(s)); err != nil || txn.t == nil || !txn.shared {
		return err
	}
	for _, q := range []string{QueueInbox, QueueOutbox} {
		if _, err := txn.t.DeletePartition(q, string(s)); err != nil {
			return err
		}
	}
	return nil
}

func workSeq(l store.Lease) (uint64, error) {
	d := dec{b: l.Payload}
	seq := d.uint()
	if d.err != nil {
		return 0, ErrCorrupt
	}
	return seq, nil
}

// InboxClaim is an inbound message leased to this process: process it and
// commit with Change.Ack set to Lease.
type InboxClaim struct {
	Lease store.Lease
	Entry InboxEntry
}

// ClaimInbox leases up to max inbound messages, at most one per subject,
// each the oldest unprocessed one of its subject, for d. Entries with
// nothing left to do (processed, erased, unreadable) are acked and not
// returned.
func (v *Vault) ClaimInbox(ctx context.Context, owner string, max int, d time.Duration) ([]InboxClaim, error) {
	return claimWork(v, ctx, QueueInbox, owner, max, d, func(txn kvReader, keys map[SubjectID]*subjectKey, l store.Lease) (InboxClaim, bool, error) {
		e, ok, err := v.claimedIQ(txn, keys, l)
		return InboxClaim{Lease: l, Entry: e}, ok, err
	})
}

// claimWork claims up to max entries of queue for d and opens each with
// open in one read transaction; entries open says are finished with (ok
// false) are acked and left out. On an error every claim is given back.
func claimWork[C any](v *Vault, ctx context.Context, queue, owner string, max int, d time.Duration,
	open func(kvReader, map[SubjectID]*subjectKey, store.Lease) (C, bool, error)) ([]C, error) {
	if !v.Shared() {
		return nil, fmt.Errorf("vault: claim %s: the %s is not shared on Badger", queue, queue)
	}
	ls, err := v.st.Claim(ctx, queue, owner, max, d)
	if err == nil && len(ls) > 0 {
		err = v.tk.refresh()
	}
	if err != nil {
		return nil, fmt.Errorf("vault: claim %s: %w", queue, err)
	}
	var out []C
	var stale []store.Lease
	err = v.view(func(txn kvReader) error {
		keys := map[SubjectID]*subjectKey{}
		for _, l := range ls {
			c, ok, err := open(txn, keys, l)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, c)
			} else {
				stale = append(stale, l)
			}
		}
		return nil
	})
	if err == nil {
		err = v.ackLeases(stale)
	}
	if err != nil {
		for _, l := range ls {
			_ = v.st.Release(ctx, l, time.Time{})
		}
		return nil, fmt.Errorf("vault: claim %s: %w", queue, err)
	}
	return out, nil
}

// claimedIQ reads the inbox entry a lease points at; ok is false when it
// needs no turn any more.
func (v *Vault) claimedIQ(txn kvReader, keys map[SubjectID]*subjectKey, l store.Lease) (InboxEntry, bool, error) {
	seq, err := workSeq(l)
	if err != nil {
		return InboxEntry{}, false, nil // unreadable for good: acked
	}
	k := seqKey(prefixIQ, seq)
	item, err := txn.Get(k)
	if errors.Is(err, store.ErrNotFound) {
		return InboxEntry{}, false, nil
	}
	if err != nil {
		return InboxEntry{}, false, err
	}
	b, err := item.ValueCopy(nil)
	if err != nil {
		return InboxEntry{}, false, err
	}
	q, err := decodeIQ(k, b)
	if err != nil {
		return InboxEntry{}, false, nil
	}
	if done, err := processed(txn, q.hash, q.seq); err != nil || done {
		return InboxEntry{}, false, err
	}
	return v.openIQ(txn, keys, q)
}

// ackLeases acks leases whose entries need nothing more (a lease lost
// meanwhile is somebody else's now).
func (v *Vault) ackLeases(ls []store.Lease) error {
	if len(ls) == 0 {
		return nil
	}
	return v.update(func(txn kvTxn) error {
		for _, l := range ls {
			if err := txn.t.Ack(l); err != nil && !errors.Is(err, store.ErrLeaseLost) {
				return err
			}
		}
		return nil
	})
}

// OutboxClaim is a reply leased to this process: send it and acknowledge
// it with OutboxAck.Lease, or give it back with ReleaseLease.
type OutboxClaim struct {
	Lease store.Lease
	Entry OutboxEntry
	// Window is the subject's window record, read with the entry.
	Window Window
}

// ClaimOutbox leases up to max replies, at most one per subject, each the
// oldest unacknowledged one of its subject, for d. An entry whose status is
// OutboxSending was being sent by a claimer that did not acknowledge it (a
// crash, an expired lease): it may have been delivered. Entries already
// gone are acked and not returned.
func (v *Vault) ClaimOutbox(ctx context.Context, owner string, max int, d time.Duration) ([]OutboxClaim, error) {
	return claimWork(v, ctx, QueueOutbox, owner, max, d, func(txn kvReader, keys map[SubjectID]*subjectKey, l store.Lease) (OutboxClaim, bool, error) {
		seq, err := workSeq(l)
		if err != nil {
			return OutboxClaim{}, false, nil // unreadable for good: acked
		}
		k := seqKey(prefixOut, seq)
		o, sealed, err := getOut(txn, k)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrCorrupt) {
			return OutboxClaim{}, false, nil
		}
		if err != nil {
			return OutboxClaim{}, false, err
		}
		if ok, err := v.openOut(txn, keys, k, &o, sealed); err != nil || !ok {
			return OutboxClaim{}, false, err
		}
		w, err := getWindow(txn, o.Subject)
		return OutboxClaim{Lease: l, Entry: o, Window: w}, err == nil, err
	})
}

// ExtendLease keeps a claim for d more (store.ErrLeaseLost once it is
// lost).
func (v *Vault) ExtendLease(ctx context.Context, l store.Lease, d time.Duration) (store.Lease, error) {
	if !v.Shared() {
		return l, errors.New("vault: leases need a store")
	}
	return v.st.Extend(ctx, l, d)
}

// ReleaseLease gives a claimed entry back, due again at notBefore (zero:
// now), for any process to claim.
func (v *Vault) ReleaseLease(ctx context.Context, l store.Lease, notBefore time.Time) error {
	if !v.Shared() {
		return errors.New("vault: leases need a store")
	}
	return v.st.Release(ctx, l, notBefore)
}

// OutboxDoneLeased removes a claimed reply given up or dropped, and acks its
// lease, in one transaction.
func (v *Vault) OutboxDoneLeased(seq uint64, l store.Lease) error {
	err := v.update(func(txn kvTxn) error {
		if err := txn.Delete(seqKey(prefixOut, seq)); err != nil {
			return err
		}
		return ackLease(txn, &l)
	})
	if err != nil {
		return fmt.Errorf("vault: outbox done: %w", err)
	}
	return nil
}

// ackLease acks l in txn when it is set. A lease lost meanwhile is not an
// error here: the entry's record is finished with (sent, or given up), and
// whoever claims it next finds the record gone and only acks it.
func ackLease(txn kvTxn, l *store.Lease) error {
	if l == nil || txn.t == nil {
		return nil
	}
	if err := txn.t.Ack(*l); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	return nil
}

// InboxSettled reports whether the inbound message msgID needs no more
// work: processed (its processed mark), or gone with its subject (an
// erasure, a number change). An id never stored is settled.
func (v *Vault) InboxSettled(msgID string) (bool, error) {
	ref, found, pending, err := v.inboxRefOf(msgID)
	if err != nil || !found || !pending {
		return err == nil, err
	}
	var done bool
	err = v.view(func(txn kvReader) error {
		done, err = processed(txn, ref.hash, ref.seq)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("vault: inbox settled: %w", err)
	}
	return done, nil
}

// AdoptUnqueued gives a queue entry to every pending inbox record (not
// processed) and outbox record that has none: records written before the
// store's inbox and outbox were shared (an older Parley on this database).
// It runs in one transaction, so instances starting together do not both
// add them; it returns how many it added. Nothing on Badger.
func (v *Vault) AdoptUnqueued() (int, error) {
	if !v.Shared() {
		return 0, nil
	}
	n := 0
	err := v.update(func(txn kvTxn) error {
		n = 0
		for _, q := range []struct {
			queue  string
			prefix []byte
		}{{QueueInbox, prefixIQ}, {QueueOutbox, prefixOut}} {
			has := map[uint64]bool{}
			err := txn.t.ScanQueue(q.queue, func(e store.Entry) error {
				if seq, err := workSeq(store.Lease{Payload: e.Payload}); err == nil {
					has[seq] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
			type orphan struct {
				seq uint64
				s   SubjectID
			}
			var orphans []orphan
			err = txn.Scan(q.prefix, true, func(k []byte, item kvItem) error {
				seq := parseSeq(k, len(q.prefix))
				if has[seq] {
					return nil
				}
				return item.Value(func(b []byte) error {
					if q.queue == QueueOutbox {
						d := dec{b: b}
						if s := SubjectID(d.str()); d.err == nil {
							orphans = append(orphans, orphan{seq, s})
						}
						return nil
					}
					iq, err := decodeIQ(k, b)
					if err != nil {
						return nil // unreadable: the sweep drops it
					}
					if done, err := processed(txn, iq.hash, iq.seq); err != nil || done {
						return err
					}
					orphans = append(orphans, orphan{seq, iq.subject})
					return nil
				})
			})
			if err != nil {
				return err
			}
			for _, o := range orphans {
				if err := enqueueWork(txn, q.queue, o.s, o.seq); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("vault: queue stored work: %w", err)
	}
	return n, nil
}
