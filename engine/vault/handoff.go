package vault

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Hand-offs to a person (see engine/runtime/handoff.go).
//
// The conversation itself, with the customer's address a reply needs, stays
// in the sealed conversation state. What the team's queue lists is kept
// apart, so the queue can be read without opening any subject's data:
//
//	hq/<s>    queue entry: reason, channel, flow, since, until; no content
//
// It is written when the conversation is handed off and deleted when the
// hand-off ends (a person hands it back or closes it, the timeout, the
// conversation ends, the subject is erased). The customer's messages of the
// hand-off are transcript lines, stored as field records of the subject
// under reserved names (TranscriptPrefix), so they are sealed under the
// subject key, expire with their own retention, are exported and erased
// like every answer.
//
// When the flow declares handoff.notify, the hand-off queues a notice on
// the recipient-notice queue (notify.go): event "handoff", integration
// "handoff", and the flow's pseudonymous reference for the subject.

// TranscriptPrefix begins the field name of every transcript line. A flow
// field name cannot begin with it (names are letters, digits and _).
const TranscriptPrefix = "~handoff/"

// NoticeHandoff is the event of a hand-off notice.
const NoticeHandoff = "handoff"

// handoffKeep is how long a queue entry outlives its timeout at most, in
// case the conversation was never taken back (the server was down): the
// expiry loop takes it back at the next start, and Badger's TTL removes the
// entry if nothing else does.
const handoffKeep = 30 * 24 * time.Hour

// HandoffEntry is one handed-off conversation in the team's queue. It holds
// no personal data: the subject's pseudonym, the channel and flow names,
// why (a keyword, a step id, an integration name) and the times.
type HandoffEntry struct {
	Subject SubjectID `json:"subject"`
	Channel string    `json:"channel"`
	Flow    string    `json:"flow"`
	Reason  string    `json:"reason"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	// Notify is the address told of the hand-off ("" for none); not kept.
	Notify string `json:"-"`
}

var prefixHQ = []byte("hq/")

func keyHQ(s SubjectID) []byte { return []byte("hq/" + s) }

func encodeHandoff(h *HandoffEntry) []byte {
	var e enc
	for _, s := range []string{string(h.Subject), h.Channel, h.Flow, h.Reason} {
		e.str(s)
	}
	e.time(h.Since)
	e.time(h.Until)
	return e.b
}

func decodeHandoff(b []byte) (HandoffEntry, error) {
	d := dec{b: b}
	h := HandoffEntry{Subject: SubjectID(d.str()), Channel: d.str(), Flow: d.str(), Reason: d.str(), Since: d.time(), Until: d.time()}
	if d.err != nil {
		return HandoffEntry{}, ErrCorrupt
	}
	return h, nil
}

// applyHandoff writes or deletes the subject's queue entry for a commit and
// queues the hand-off notice; it reports whether a notice was queued.
func (v *Vault) applyHandoff(txn kvTxn, s SubjectID, c *Change, now time.Time) (bool, error) {
	if c.HandoffDone && c.Handoff == nil {
		if err := txn.Delete(keyHQ(s)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
	}
	h := c.Handoff
	if h == nil {
		return false, nil
	}
	h.Subject = s
	k := keyHQ(s)
	val, err := seal(v.meta, nil, encodeHandoff(h), k)
	if err != nil {
		return false, err
	}
	if err := txn.SetTTL(k, val, h.Until.Sub(now)+handoffKeep); err != nil {
		return false, err
	}
	if h.Notify == "" {
		return false, nil
	}
	id, err := randomBytes(16)
	if err != nil {
		return false, err
	}
	n := Notice{
		Receipt: hex.EncodeToString(id), Event: NoticeHandoff, Flow: h.Flow, Integration: NoticeHandoff,
		URL: h.Notify, Ref: v.RecipientRef(s, h.Flow, NoticeHandoff),
		At: now.UTC(), NextAt: now, GiveUpAt: now.Add(NoticeGiveUp),
	}
	return true, v.putNotice(txn, &n, now)
}

// DropHandoff removes s from the hand-off queue without a turn: its
// conversation is gone (expired, or moved) and nobody can answer it.
func (v *Vault) DropHandoff(s SubjectID) error {
	err := v.update(func(txn kvTxn) error {
		if err := txn.Delete(keyHQ(s)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: hand-off %s: %w", s, err)
	}
	return nil
}

// Handoffs lists the handed-off conversations, oldest first.
func (v *Vault) Handoffs() ([]HandoffEntry, error) {
	var out []HandoffEntry
	err := v.view(func(txn kvReader) error {
		return txn.Scan(prefixHQ, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				pt, err := open(v.meta, b, k)
				if err != nil {
					return ErrCorrupt
				}
				h, err := decodeHandoff(pt)
				if err != nil {
					return err
				}
				out = append(out, h)
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: hand-offs: %w", err)
	}
	sortHandoffs(out)
	return out, nil
}

func sortHandoffs(hs []HandoffEntry) {
	slices.SortFunc(hs, func(a, b HandoffEntry) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(string(a.Subject), string(b.Subject))
	})
}
