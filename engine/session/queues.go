package session

import (
	"context"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/vault"
)

// The methods in this file give a host (adapters/host) the durable inbox,
// the outbox and the number change it needs, in the runtime's terms:
// subjects are pseudonymous ids in hex, and nothing names a vault type, so
// the host declares the interfaces it uses and never imports the vault.

// InboxEntry is an inbound message stored until its turn is committed.
type InboxEntry struct {
	Seq     uint64
	MsgID   string
	Subject string
	Payload []byte
}

// OutboxEntry is a rendered reply waiting to be sent or acknowledged.
type OutboxEntry struct {
	Seq     uint64
	Subject string
	Payload []byte
	// Status is OutboxQueued until a send starts (OutboxSending), then
	// "sending" or "retrying".
	Status string
}

// MoveResult says what a number change did; both subjects are pseudonyms.
type MoveResult struct {
	To       string
	Outcome  string // vault.MoveMoved, MoveNothing or MoveRefused
	Fields   int
	Consents int
	// Reminders and Contacts moved, readdressed to the new id.
	Reminders, Contacts int
}

// InboxPut stores an inbound message under its id; dup reports an id seen
// before (the message is then not stored again).
func (s *Store) InboxPut(_ context.Context, msgID, subject string, payload []byte, now time.Time) (dup bool, err error) {
	return s.V.InboxPut(msgID, vault.SubjectID(subject), payload, now)
}

// InboxItem is an inbound message to store: its id, its subject (hex) and
// its payload.
type InboxItem struct {
	MsgID   string
	Subject string
	Payload []byte
}

// InboxPutBatch stores the inbound messages of one request with one group
// commit (vault.InboxPutBatch); dups[i] reports items[i] seen before.
func (s *Store) InboxPutBatch(_ context.Context, items []InboxItem, now time.Time) (dups []bool, err error) {
	vs := make([]vault.InboxItem, len(items))
	for i, it := range items {
		vs[i] = vault.InboxItem{MsgID: it.MsgID, Subject: vault.SubjectID(it.Subject), Payload: it.Payload}
	}
	return s.V.InboxPutBatch(vs, now)
}

// InboxDone marks an inbound message processed without a turn.
func (s *Store) InboxDone(_ context.Context, msgID string) error { return s.V.InboxDone(msgID) }

// InboxPending returns the inbound messages not yet processed, oldest first.
func (s *Store) InboxPending(context.Context) ([]InboxEntry, error) {
	es, err := s.V.InboxPending()
	if err != nil {
		return nil, err
	}
	out := make([]InboxEntry, len(es))
	for i, e := range es {
		out[i] = InboxEntry{Seq: e.Seq, MsgID: e.MsgID, Subject: e.Subject.Hex(), Payload: e.Payload}
	}
	return out, nil
}

// Commit queues replies and marks an inbound message done without touching
// the conversation (a message no turn answers).
func (s *Store) Commit(_ context.Context, subject string, x Extra) ([]uint64, error) {
	return s.V.CommitTurn(vault.SubjectID(subject), vault.Change{Outbox: x.Outbox, OutboxSending: x.OutboxSending, InboxDone: x.InboxDone, Ack: x.Lease})
}

// OutboxPending returns the replies committed but not acknowledged.
func (s *Store) OutboxPending(context.Context) ([]OutboxEntry, error) {
	es, err := s.V.OutboxPending()
	if err != nil {
		return nil, err
	}
	out := make([]OutboxEntry, len(es))
	for i, e := range es {
		out[i] = OutboxEntry{Seq: e.Seq, Subject: e.Subject.Hex(), Payload: e.Payload, Status: e.Status}
	}
	return out, nil
}

// OutboxDone removes a reply that was sent or given up.
func (s *Store) OutboxDone(_ context.Context, seq uint64) error { return s.V.OutboxDone(seq) }

// OutboxDoneMany removes many sent replies in one write.
func (s *Store) OutboxDoneMany(_ context.Context, seqs []uint64) error {
	return s.V.OutboxDoneMany(seqs)
}

// OutboxRetry records a failed attempt and when the next one is due.
func (s *Store) OutboxRetry(_ context.Context, seq uint64, attempts int, next time.Time) error {
	return s.V.OutboxUpdate(seq, vault.OutboxUpdate{Status: "retrying", Attempts: attempts, NextAttempt: next})
}

// Move hands a subject's conversation, fields, consents, and the reminders
// and broadcast contacts on channel (readdressed to newUserID) to the
// subject of the customer's new id on channel (vault.MoveTo) and erases the
// old one.
// When the new id maps to the same subject nothing is done and To is from.
func (s *Store) Move(_ context.Context, from, channel, newUserID string, now time.Time) (MoveResult, error) {
	to := s.V.SubjectID(channel, newUserID)
	if to.Hex() == from {
		return MoveResult{To: from}, nil
	}
	r, err := s.V.MoveTo(vault.SubjectID(from), to, channel, newUserID, now)
	if err != nil {
		return MoveResult{}, err
	}
	return MoveResult{To: to.Hex(), Outcome: r.Outcome, Fields: r.Fields, Consents: r.Consents,
		Reminders: r.Reminders, Contacts: r.Contacts}, nil
}

// Shared reports whether several processes serve this store at once (the
// vault runs on PostgreSQL): the host then works the inbox and the outbox
// through claims (ClaimInbox, ClaimOutbox) instead of from memory.
func (s *Store) Shared() bool { return s.V.Shared() }

// InboxClaim is an inbound message leased to this process.
type InboxClaim struct {
	Lease store.Lease
	Entry InboxEntry
}

// OutboxClaim is a reply leased to this process.
type OutboxClaim struct {
	Lease store.Lease
	Entry OutboxEntry
	// Attempts counts the failed sends recorded so far.
	Attempts int
	// WindowClosedAt is when the channel last reported the subject's
	// window closed, on any instance (zero: never); Templated is the
	// inbound time (UnixNano) of the turn whose re-engagement was sent.
	WindowClosedAt time.Time
	Templated      int64
}

// ClaimInbox leases up to max inbound messages for d, at most one per
// subject, each its subject's oldest unprocessed one (vault.ClaimInbox).
func (s *Store) ClaimInbox(ctx context.Context, owner string, max int, d time.Duration) ([]InboxClaim, error) {
	cs, err := s.V.ClaimInbox(ctx, owner, max, d)
	if err != nil {
		return nil, err
	}
	out := make([]InboxClaim, len(cs))
	for i, c := range cs {
		e := c.Entry
		out[i] = InboxClaim{Lease: c.Lease, Entry: InboxEntry{Seq: e.Seq, MsgID: e.MsgID, Subject: e.Subject.Hex(), Payload: e.Payload}}
	}
	return out, nil
}

// ClaimOutbox leases up to max replies for d, at most one per subject,
// each its subject's oldest unacknowledged one (vault.ClaimOutbox).
func (s *Store) ClaimOutbox(ctx context.Context, owner string, max int, d time.Duration) ([]OutboxClaim, error) {
	cs, err := s.V.ClaimOutbox(ctx, owner, max, d)
	if err != nil {
		return nil, err
	}
	out := make([]OutboxClaim, len(cs))
	for i, c := range cs {
		e := c.Entry
		out[i] = OutboxClaim{Lease: c.Lease, Attempts: e.Attempts, WindowClosedAt: c.Window.ClosedAt, Templated: c.Window.Templated,
			Entry: OutboxEntry{Seq: e.Seq, Subject: e.Subject.Hex(), Payload: e.Payload, Status: e.Status}}
	}
	return out, nil
}

// ExtendLease keeps a claim for d more.
func (s *Store) ExtendLease(ctx context.Context, l store.Lease, d time.Duration) (store.Lease, error) {
	return s.V.ExtendLease(ctx, l, d)
}

// ReleaseLease gives a claimed entry back, due again at notBefore.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease, notBefore time.Time) error {
	return s.V.ReleaseLease(ctx, l, notBefore)
}

// OutboxDoneLeased removes a claimed reply given up or dropped and acks its
// claim.
func (s *Store) OutboxDoneLeased(_ context.Context, seq uint64, l store.Lease) error {
	return s.V.OutboxDoneLeased(seq, l)
}

// WindowClosed records, for every instance, that the channel said at at
// that the subject's window has closed.
func (s *Store) WindowClosed(_ context.Context, subject string, at time.Time) error {
	return s.V.WindowClosed(vault.SubjectID(subject), at)
}

// WindowClosedAt is when the channel last reported the subject's window
// closed, to any instance (vault.WindowOf).
func (s *Store) WindowClosedAt(_ context.Context, subject string) (time.Time, error) {
	w, err := s.V.WindowOf(vault.SubjectID(subject))
	return w.ClosedAt, err
}

// WindowTemplated records that the re-engagement of the turn answering the
// message received at inboundAt is being sent; first is false when it
// already was, by any instance.
func (s *Store) WindowTemplated(_ context.Context, subject string, inboundAt int64) (first bool, err error) {
	return s.V.WindowTemplated(vault.SubjectID(subject), inboundAt)
}

// InboxSettled reports whether an inbound message needs no more work
// (vault.InboxSettled).
func (s *Store) InboxSettled(_ context.Context, msgID string) (bool, error) {
	return s.V.InboxSettled(msgID)
}

// AdoptUnqueued gives a queue entry to pending inbox and outbox records
// stored before the inbox and outbox were shared (vault.AdoptUnqueued).
func (s *Store) AdoptUnqueued(context.Context) (int, error) { return s.V.AdoptUnqueued() }
