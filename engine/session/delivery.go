package session

import (
	"context"
	"errors"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/vault"
)

// Ack acknowledges one reply the channel accepted (vault.OutboxAck in the
// runtime's terms).
type Ack struct {
	Seq     uint64
	Subject string
	// ChannelMsgID is the channel's id for the message, for its delivery
	// statuses.
	ChannelMsgID string
	// Next, when not zero, is the subject's next entry: its send starts
	// now, so it is marked as possibly sent in the same write.
	Next uint64
	// Lease is the entry's claim on a shared store, acked in the same
	// write (nil on Badger).
	Lease *store.Lease
}

// StatusUpdate says what a delivery status changed (vault.StatusUpdate).
type StatusUpdate struct {
	Subject          string
	Previous, Status string
}

// Outbox statuses: OutboxQueued until a send starts, OutboxSending after.
const (
	OutboxQueued  = vault.OutboxQueued
	OutboxSending = vault.OutboxSending
)

// OutboxAck removes accepted replies and remembers their channel ids, in one
// write.
func (s *Store) OutboxAck(_ context.Context, acks []Ack) error {
	va := make([]vault.OutboxAck, len(acks))
	for i, a := range acks {
		va[i] = vault.OutboxAck{Seq: a.Seq, Subject: vault.SubjectID(a.Subject), ChannelMsgID: a.ChannelMsgID, Next: a.Next, Lease: a.Lease}
	}
	return s.V.OutboxAckMany(va)
}

// OutboxSending marks replies whose send starts now: after a crash they are
// the only ones that may already have been delivered.
func (s *Store) OutboxSending(_ context.Context, seqs []uint64) error {
	return s.V.OutboxMarkSending(seqs)
}

// DeliveryStatus records a channel's status for a message it accepted
// (known is false for an id that is not ours, or forgotten). Statuses never
// regress.
func (s *Store) DeliveryStatus(_ context.Context, channelMsgID, status string) (u StatusUpdate, known bool, err error) {
	r, err := s.V.OutboxStatus(channelMsgID, status)
	if errors.Is(err, vault.ErrNotFound) {
		return StatusUpdate{}, false, nil
	}
	if err != nil {
		return StatusUpdate{}, false, err
	}
	return StatusUpdate{Subject: r.Subject.Hex(), Previous: r.Previous, Status: r.Status}, true, nil
}
