package host

import (
	"context"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// The storage the host needs, declared here where it is used. engine/session
// implements all of it on the vault (cmd/parley states the assertions);
// another backend implements the same methods.

// Subjects turns a channel's user id into the pseudonymous subject every
// other call takes.
type Subjects interface {
	Subject(channel, userID string) string
}

// TurnStore loads and commits conversations: one turn, its rendered replies
// and its inbox mark in one commit.
type TurnStore interface {
	runtime.Store
	SaveTurn(ctx context.Context, subject string, st *runtime.State, effects []runtime.Effect, now time.Time, x session.Extra) ([]uint64, error)
	// Commit queues replies and marks a message done without a turn.
	Commit(ctx context.Context, subject string, x session.Extra) ([]uint64, error)
	// Move hands a subject's data to the customer's new id on channel.
	Move(ctx context.Context, from, channel, newUserID string, now time.Time) (session.MoveResult, error)
}

// Inbox keeps inbound messages, deduplicated by id, until their turn is
// committed.
type Inbox interface {
	// InboxPutBatch stores the messages of one request, durable together
	// when it returns; dups[i] reports items[i] seen before.
	InboxPutBatch(ctx context.Context, items []session.InboxItem, now time.Time) (dups []bool, err error)
	InboxDone(ctx context.Context, msgID string) error
	InboxPending(ctx context.Context) ([]session.InboxEntry, error)
}

// Outbox keeps committed replies until the channel accepted them, and the
// delivery status of each accepted one for the status map's lifetime.
type Outbox interface {
	OutboxPending(ctx context.Context) ([]session.OutboxEntry, error)
	OutboxDone(ctx context.Context, seq uint64) error
	OutboxRetry(ctx context.Context, seq uint64, attempts int, next time.Time) error
	// OutboxSending marks entries whose send starts now.
	OutboxSending(ctx context.Context, seqs []uint64) error
	// OutboxAck removes accepted entries and keeps their channel ids with
	// status "sent", in one write.
	OutboxAck(ctx context.Context, acks []session.Ack) error
	// DeliveryStatus records a status for a channel message id; known is
	// false for an id not acknowledged through OutboxAck (or forgotten).
	DeliveryStatus(ctx context.Context, channelMsgID, status string) (u session.StatusUpdate, known bool, err error)
}

// Handoffs lists the conversations waiting for a person; DropHandoff takes
// out one whose conversation is gone.
type Handoffs interface {
	Handoffs(ctx context.Context) ([]session.HandoffEntry, error)
	DropHandoff(ctx context.Context, subject string) error
}

// Store is everything the host keeps.
type Store interface {
	Subjects
	TurnStore
	Inbox
	Outbox
	Handoffs
}
