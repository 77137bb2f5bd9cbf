package host

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

// Channel is one messaging channel the host runs conversations on. It knows
// its wire formats and its rules; the host knows the inbox, the turn, the
// commit, the outbox, retries and acknowledgement. Adding a channel is one
// package that implements Channel (and decodes its own requests into
// Host.Accept calls); nothing in the host changes.
type Channel interface {
	// Name is the channel's stable name ("whatsapp", "web"). Subjects are
	// derived from it and every inbox and outbox entry carries it.
	Name() string
	// Render turns one reply for user to into the channel's send requests,
	// in order.
	Render(to, lang string, m runtime.Message) []Outbound
	// Send delivers one request and returns the channel's id for the sent
	// message. It waits for the channel's pacing and gives up when ctx is
	// done.
	Send(ctx context.Context, out Outbound) (id string, err error)
	// Classify says what to do about a failed send: the attempt-th one of
	// out, failing with err at now.
	Classify(out Outbound, err error, attempt int, now time.Time) SendFailure
	// WindowOpen reports whether a reply that is not Free may still go to a
	// customer who last wrote at lastInbound.
	WindowOpen(lastInbound, now time.Time) bool
	// Reengage returns what to send instead of the first reply of a turn
	// once the window has closed (for WhatsApp, the flow's template), or
	// false to drop the reply.
	Reengage(out Outbound, flow string) (Outbound, bool)
}

// Outbound is one rendered send request.
type Outbound struct {
	// To is the channel's user id of the recipient, for a channel whose
	// request does not name it (personal data: stored sealed with the
	// request, never logged).
	To string `json:"to,omitempty"`
	// Req is the request in the channel's own format.
	Req json.RawMessage `json:"req"`
	// Free marks a request the channel's window rules do not restrict (a
	// WhatsApp template).
	Free bool `json:"free,omitempty"`
}

// SendFailure is a channel's verdict on a failed send.
type SendFailure struct {
	// Retry asks for another attempt after Delay.
	Retry bool
	Delay time.Duration
	// CloseWindow says the channel refused the reply because its window
	// has closed: the window rules are applied again, at once.
	CloseWindow bool
	// Uncertain says the failed attempt may have been delivered anyway.
	Uncertain bool
	// Code is the channel's error code, for logs (0 when none).
	Code int
}

// DeliveryStatus is a channel's report about a message it sent.
type DeliveryStatus struct {
	// ID is the id Send returned.
	ID string
	// Status is sent, delivered, read or failed (anything else counts as
	// "other").
	Status string
	// CloseWindow says the channel reported the customer's window closed.
	CloseWindow bool
}

// ReadMarker is implemented by a channel that tells the customer their
// message was read when its turn starts.
type ReadMarker interface {
	MarkRead(ctx context.Context, msgID string)
}

// UnsupportedReplier is implemented by a channel that answers messages it
// cannot hand to a flow (a sticker, a voice note) with a fixed text.
type UnsupportedReplier interface {
	UnsupportedReply(lang string) string
}
