package vault

import (
	"errors"
	"fmt"

	"github.com/parleyhq/parley/engine/store"
)

// Delivery statuses of a sent reply, in the order they may follow each
// other. A status never goes back (a late "delivered" after "read" is kept
// as "read"); "failed" ends a message that was not read.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// Outbox statuses: OutboxQueued until a send starts; OutboxSending once it
// has started: if the process dies before its acknowledgement, it may have
// been delivered.
const (
	OutboxQueued  = "queued"
	OutboxSending = "sending"
)

// OutboxAck acknowledges one reply the channel accepted.
type OutboxAck struct {
	Seq     uint64
	Subject SubjectID
	// ChannelMsgID is the channel's id for the sent message (the wamid);
	// its status is kept under ow/ for Options.DedupeWindow.
	ChannelMsgID string
	// Next, when not zero, is the subject's next entry, marked
	// OutboxSending in the same write because its send starts now.
	Next uint64
	// Lease, on a store, is the claim of the entry, acked in the same
	// write (see shared.go).
	Lease *store.Lease
}

// OutboxAckMany removes accepted entries, records their channel ids with
// status "sent" and marks each subject's next entry as being sent, in one
// transaction.
func (v *Vault) OutboxAckMany(acks []OutboxAck) error {
	if len(acks) == 0 {
		return nil
	}
	v.tk.use.RLock() // the rotation must not re-seal a marked entry meanwhile
	defer v.tk.use.RUnlock()
	err := v.update(func(txn kvTxn) error {
		for _, a := range acks {
			if err := txn.Delete(seqKey(prefixOut, a.Seq)); err != nil {
				return err
			}
			if err := ackLease(txn, a.Lease); err != nil {
				return err
			}
			if a.ChannelMsgID != "" {
				if err := txn.SetTTL(v.keyOW(a.ChannelMsgID), encodeOW(a.Seq, a.Subject, StatusSent), v.opts.DedupeWindow); err != nil {
					return err
				}
			}
			if a.Next != 0 {
				if err := markOut(txn, a.Next, OutboxSending); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: outbox acknowledgement: %w", err)
	}
	return nil
}

// OutboxMarkSending marks entries whose send starts now (see OutboxSending).
// Entries already done are skipped.
func (v *Vault) OutboxMarkSending(seqs []uint64) error {
	v.tk.use.RLock()
	defer v.tk.use.RUnlock()
	err := v.update(func(txn kvTxn) error {
		for _, seq := range seqs {
			if err := markOut(txn, seq, OutboxSending); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: outbox mark: %w", err)
	}
	return nil
}

// markOut sets the status of an outbox entry, if it still exists.
func markOut(txn kvTxn, seq uint64, status string) error {
	k := seqKey(prefixOut, seq)
	o, sealed, err := getOut(txn, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.Status == status {
		return nil
	}
	o.Status = status
	return txn.Set(k, encodeOut(&o, sealed))
}

func encodeOW(seq uint64, s SubjectID, status string) []byte {
	var e enc
	e.uint(seq)
	e.str(string(s))
	e.str(status)
	return e.b
}

// decodeOW reads an ow/ record; records written before statuses were kept
// have none and count as "sent".
func decodeOW(b []byte) (seq uint64, s SubjectID, status string, err error) {
	d := dec{b: b}
	seq, s = d.uint(), SubjectID(d.str())
	if d.err != nil {
		return 0, "", "", ErrCorrupt
	}
	status = StatusSent
	if len(d.b) > 0 {
		if status = d.str(); d.err != nil {
			return 0, "", "", ErrCorrupt
		}
	}
	return seq, s, status, nil
}

// statusRank orders statuses; a status may only replace a lower one.
func statusRank(s string) int {
	switch s {
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 4
	case StatusFailed:
		return 3 // after delivered (Meta may fail a delivered message), never after read
	}
	return 0
}

// StatusUpdate is what OutboxStatus did with a delivery status.
type StatusUpdate struct {
	Subject SubjectID
	// Previous is the status kept before; Status the one kept now (equal
	// when the report was older than what is known).
	Previous, Status string
}

// OutboxStatus records a delivery status for a message sent under chanID
// (ErrNotFound when the id is not ours or older than Options.DedupeWindow).
// Statuses never regress; the record keeps its lifetime.
func (v *Vault) OutboxStatus(chanID, status string) (StatusUpdate, error) {
	var u StatusUpdate
	k := v.keyOW(chanID)
	err := v.update(func(txn kvTxn) error {
		item, err := txn.Get(k)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var seq uint64
		if err := item.Value(func(b []byte) error {
			seq, u.Subject, u.Previous, err = decodeOW(b)
			return err
		}); err != nil {
			return err
		}
		u.Status = u.Previous
		if statusRank(status) <= statusRank(u.Previous) {
			return nil
		}
		u.Status = status
		return txn.SetLike(k, encodeOW(seq, u.Subject, status), item)
	})
	if err != nil {
		return StatusUpdate{}, fmt.Errorf("vault: delivery status: %w", err)
	}
	return u, nil
}
