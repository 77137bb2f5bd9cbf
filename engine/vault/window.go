package vault

import (
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// The window record wn/<s> keeps what a channel said about a subject's
// messaging window where every instance sharing the store sees it: when the
// channel last reported the window closed (a failed delivery, WhatsApp's
// 131047), and the inbound time of the turn whose re-engagement was sent.
// Times only, no content; it expires WindowKeep after its last write, when
// the channel's own 24-hour window has closed anyway.

// WindowKeep is how long a window record lives after its last write.
const WindowKeep = 48 * time.Hour

func keyWN(s SubjectID) []byte { return []byte("wn/" + s) }

// Window is a subject's window record.
type Window struct {
	// ClosedAt is when the channel last said the window closed (zero:
	// never). A customer message after it opens the window again.
	ClosedAt time.Time
	// Templated is the inbound time (UnixNano) of the turn whose
	// re-engagement was sent (zero: none).
	Templated int64
}

func (w Window) encode() []byte {
	var e enc
	e.time(w.ClosedAt)
	e.int(w.Templated)
	return e.b
}

func getWindow(txn kvReader, s SubjectID) (Window, error) {
	item, err := txn.Get(keyWN(s))
	if errors.Is(err, store.ErrNotFound) {
		return Window{}, nil
	}
	if err != nil {
		return Window{}, err
	}
	var w Window
	err = item.Value(func(b []byte) error {
		d := dec{b: b}
		w = Window{ClosedAt: d.time(), Templated: d.int()}
		return d.err
	})
	return w, err
}

// WindowOf returns the subject's window record (zero when none).
func (v *Vault) WindowOf(s SubjectID) (w Window, err error) {
	err = v.view(func(txn kvReader) error {
		w, err = getWindow(txn, s)
		return err
	})
	if err != nil {
		return Window{}, fmt.Errorf("vault: window: %w", err)
	}
	return w, nil
}

// WindowClosed records that the channel said, at at, that the subject's
// window has closed.
func (v *Vault) WindowClosed(s SubjectID, at time.Time) error {
	err := v.update(func(txn kvTxn) error {
		w, err := getWindow(txn, s)
		if err != nil {
			return err
		}
		if !at.After(w.ClosedAt) {
			return nil
		}
		w.ClosedAt = at.UTC()
		return txn.SetTTL(keyWN(s), w.encode(), WindowKeep)
	})
	if err != nil {
		return fmt.Errorf("vault: window: %w", err)
	}
	return nil
}

// WindowTemplated records that the re-engagement of the turn answering the
// message received at inboundAt (UnixNano) is being sent; first is false
// when it already was.
func (v *Vault) WindowTemplated(s SubjectID, inboundAt int64) (first bool, err error) {
	err = v.update(func(txn kvTxn) error {
		w, err := getWindow(txn, s)
		if err != nil {
			return err
		}
		if first = w.Templated != inboundAt; !first {
			return nil
		}
		w.Templated = inboundAt
		return txn.SetTTL(keyWN(s), w.encode(), WindowKeep)
	})
	if err != nil {
		return false, fmt.Errorf("vault: window: %w", err)
	}
	return first, nil
}
