package vault

import (
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// InboxEntry is an inbound message accepted but not yet processed.
type InboxEntry struct {
	Seq     uint64
	MsgID   string
	Subject SubjectID
	Payload []byte
	At      time.Time
}

// OutboxEntry is a message waiting to be sent or acknowledged.
type OutboxEntry struct {
	Seq          uint64
	Subject      SubjectID
	Payload      []byte
	Created      time.Time
	Attempts     int
	NextAttempt  time.Time
	Status       string
	ChannelMsgID string
}

// OutboxUpdate is the delivery state the sender records for an entry.
type OutboxUpdate struct {
	Status      string
	Attempts    int
	NextAttempt time.Time
	// ChannelMsgID, once known (the wamid returned by the Graph API), maps
	// status callbacks back to the entry via OutboxByChannelID.
	ChannelMsgID string
}

var prefixOut = []byte("out/")

func seqKey(prefix []byte, seq uint64) []byte {
	return fmt.Appendf(append([]byte(nil), prefix...), "%016x", seq)
}
func (v *Vault) keyOW(chanID string) []byte {
	return []byte("ow/" + v.dedupeMAC.hex(20, "outbox:", chanID))
}

// withSubjectKey runs fn in a write transaction with the subject's key,
// creating it if needed and purging first if the subject was erased.
func (v *Vault) withSubjectKey(s SubjectID, now time.Time, fn func(kvTxn, *subjectKey) error) error {
	for range 10 {
		fresh := false
		err := v.update(func(txn kvTxn) error {
			sk, err := v.liveKey(txn, s, true, now)
			if err != nil {
				return err
			}
			fresh = sk.fresh
			return fn(txn, sk)
		})
		if err == nil && fresh {
			v.keyCreated(s)
		}
		if !errors.Is(err, errPurgePending) {
			return err
		}
		if err := v.purge([]SubjectID{s}); err != nil {
			return err
		}
	}
	return errPurgePending
}

func (v *Vault) cachedKey(txn kvReader, cache map[SubjectID]*subjectKey, s SubjectID) (*subjectKey, error) {
	if sk, ok := cache[s]; ok {
		return sk, nil
	}
	sk, err := v.readKey(txn, s)
	if err != nil {
		return nil, err
	}
	if sk != nil && sk.status != keyLive {
		sk = nil
	}
	cache[s] = sk
	return sk, nil
}

func parseSeq(k []byte, skip int) uint64 {
	var seq uint64
	for _, c := range k[skip:] {
		seq <<= 4
		switch {
		case c >= '0' && c <= '9':
			seq |= uint64(c - '0')
		case c >= 'a' && c <= 'f':
			seq |= uint64(c-'a') + 10
		}
	}
	return seq
}

func encodeOut(o *OutboxEntry, sealed []byte) []byte {
	e := sizedEnc(len(o.Subject) + len(o.Status) + len(o.ChannelMsgID) + len(sealed))
	e.str(string(o.Subject))
	e.time(o.Created)
	e.int(int64(o.Attempts))
	e.time(o.NextAttempt)
	e.str(o.Status)
	e.str(o.ChannelMsgID)
	e.bytes(sealed)
	return e.b
}

func decodeOut(b []byte) (OutboxEntry, []byte, error) {
	d := dec{b: b}
	o := OutboxEntry{Subject: SubjectID(d.str()), Created: d.time(), Attempts: int(d.int()),
		NextAttempt: d.time(), Status: d.str(), ChannelMsgID: d.str()}
	sealed := d.bytes()
	if d.err != nil {
		return OutboxEntry{}, nil, ErrCorrupt
	}
	return o, sealed, nil
}

// OutboxPut queues a message for the subject, sealed under the subject's
// key and the current transient key. It is not fsynced on its own: Badger applies writes in order, so a
// power cut that loses it also loses the InboxDone that would follow it, and
// the inbound message is processed again.
func (v *Vault) OutboxPut(s SubjectID, payload []byte) (seq uint64, err error) {
	now := v.now()
	v.tk.use.RLock()
	defer v.tk.use.RUnlock()
	res, err := v.reserveSeqs(1, 0)
	if err != nil {
		return 0, fmt.Errorf("vault: outbox put: %w", err)
	}
	err = v.withSubjectKey(s, now, func(txn kvTxn, sk *subjectKey) error {
		res.again()
		txn.res = res
		seq, err = v.putOutbox(txn, s, sk, payload, OutboxQueued, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("vault: outbox put: %w", err)
	}
	return seq, nil
}

// putOutbox queues payload for s with status OutboxQueued, or OutboxSending
// when its send starts right after the commit.
func (v *Vault) putOutbox(txn kvTxn, s SubjectID, sk *subjectKey, payload []byte, status string, now time.Time) (uint64, error) {
	seq, err := v.nextSeq(txn, "outbox")
	if err != nil {
		return 0, err
	}
	k := seqKey(prefixOut, seq)
	inner, err := sealValue(sk.aead, k, valHdr{}, payload)
	if err != nil {
		return 0, err
	}
	tk, err := v.tk.current(now)
	if err != nil {
		return 0, err
	}
	sealed, err := v.tk.seal(tk, k, inner)
	if err != nil {
		return 0, err
	}
	if err := enqueueWork(txn, QueueOutbox, s, seq); err != nil {
		return 0, err
	}
	return seq, txn.Set(k, encodeOut(&OutboxEntry{Subject: s, Created: now.UTC(), Status: status}, sealed))
}

// OutboxPending returns the entries not yet done, in queue order.
func (v *Vault) OutboxPending() ([]OutboxEntry, error) {
	if err := v.tk.refresh(); err != nil {
		return nil, fmt.Errorf("vault: outbox pending: %w", err)
	}
	var out []OutboxEntry
	err := v.view(func(txn kvReader) error {
		keys := map[SubjectID]*subjectKey{}
		return txn.Scan(prefixOut, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				o, sealed, err := decodeOut(b)
				if err != nil {
					return err
				}
				ok, err := v.openOut(txn, keys, k, &o, sealed)
				if ok {
					out = append(out, o)
				}
				return err
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: outbox pending: %w", err)
	}
	return out, nil
}

// openOut opens the payload of the outbox entry o stored at k; ok is false
// when it is unreadable for good (subject erased, transient key gone).
func (v *Vault) openOut(txn kvReader, keys map[SubjectID]*subjectKey, k []byte, o *OutboxEntry, sealed []byte) (ok bool, err error) {
	sk, err := v.cachedKey(txn, keys, o.Subject)
	if err != nil || sk == nil {
		return false, err
	}
	inner, _, err := v.tk.open(k, sealed)
	if errors.Is(err, errKeyGone) {
		return false, nil // dropped at the next rotation
	}
	if err != nil {
		return false, err
	}
	if o.Payload, err = openValue(sk.aead, k, inner); err != nil {
		return false, err
	}
	o.Seq = parseSeq(k, len(prefixOut))
	return true, nil
}

// OutboxUpdate records delivery state for an entry (ErrNotFound if done).
func (v *Vault) OutboxUpdate(seq uint64, u OutboxUpdate) error {
	k := seqKey(prefixOut, seq)
	v.tk.use.RLock() // the rotation must not re-seal the entry meanwhile
	defer v.tk.use.RUnlock()
	err := v.update(func(txn kvTxn) error {
		o, sealed, err := getOut(txn, k)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		o.Status, o.Attempts, o.NextAttempt = u.Status, u.Attempts, u.NextAttempt
		if u.ChannelMsgID != "" && u.ChannelMsgID != o.ChannelMsgID {
			o.ChannelMsgID = u.ChannelMsgID
			var e enc
			e.uint(seq)
			e.str(string(o.Subject))
			if err := txn.SetTTL(v.keyOW(u.ChannelMsgID), e.b, v.opts.DedupeWindow); err != nil {
				return err
			}
		}
		return txn.Set(k, encodeOut(&o, sealed))
	})
	if err != nil {
		return fmt.Errorf("vault: outbox update: %w", err)
	}
	return nil
}

// OutboxByChannelID maps a channel message id (wamid) from a status callback
// to the outbox entry and subject it belongs to. The mapping outlives
// OutboxDone by Options.DedupeWindow, because "read" callbacks come late.
func (v *Vault) OutboxByChannelID(chanID string) (seq uint64, s SubjectID, err error) {
	err = v.view(func(txn kvReader) error {
		item, err := txn.Get(v.keyOW(chanID))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			d := dec{b: b}
			seq, s = d.uint(), SubjectID(d.str())
			return d.err
		})
	})
	if err != nil {
		return 0, "", fmt.Errorf("vault: outbox lookup: %w", err)
	}
	return seq, s, nil
}

// OutboxDone removes an entry once the channel has accepted it.
func (v *Vault) OutboxDone(seq uint64) error {
	err := v.update(func(txn kvTxn) error { return txn.Delete(seqKey(prefixOut, seq)) })
	if err != nil {
		return fmt.Errorf("vault: outbox done: %w", err)
	}
	return nil
}

// deleteQueued deletes the subject's entries under an inbox/outbox prefix.
// Their payloads are sealed under the subject's key, so a plain delete is
// enough once that key is destroyed.
func deleteQueued(txn kvTxn, prefix []byte, s SubjectID) (int, error) {
	var keys [][]byte
	err := txn.Scan(prefix, true, func(k []byte, item kvItem) error {
		return item.Value(func(b []byte) error {
			d := dec{b: b}
			if SubjectID(d.str()) == s {
				keys = append(keys, append([]byte(nil), k...))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// getOut reads the outbox entry at k and a copy of its sealed payload
// (store.ErrNotFound when it is gone).
func getOut(txn kvReader, k []byte) (OutboxEntry, []byte, error) {
	item, err := txn.Get(k)
	if err != nil {
		return OutboxEntry{}, nil, err
	}
	var o OutboxEntry
	var sealed []byte
	err = item.Value(func(b []byte) error {
		var err error
		o, sealed, err = decodeOut(b)
		sealed = append([]byte(nil), sealed...)
		return err
	})
	return o, sealed, err
}
