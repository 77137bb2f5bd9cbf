package vault

import (
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Outcomes of Move, also the closed set of values it audits.
const (
	// MoveMoved: the data now lives under the new subject.
	MoveMoved = "moved"
	// MoveNothing: the old subject held no conversation, field or consent.
	MoveNothing = "nothing_held"
	// MoveRefused: the new subject already held data; nothing was merged.
	MoveRefused = "refused_new_has_data"
)

// MoveResult says what Move did. Both subjects are pseudonyms.
type MoveResult struct {
	From, To SubjectID
	Outcome  string // MoveMoved, MoveNothing or MoveRefused
	States   int
	Fields   int
	Consents int
	// Erasure is the receipt of the old subject's erasure (always done).
	Erasure Receipt
}

// Move hands everything held about one subject to another: the customer
// changed the id the channel knows them by (a WhatsApp number change).
//
// In one transaction the conversation state, every unexpired field (with its
// purpose, basis, collection time and expiry unchanged: a move never extends
// retention) and every consent record (same sequence, so the history keeps
// its order) are opened with the old subject's data key and sealed again
// under the new subject's key. Then the old subject is erased with Erase:
// its key is crypto-shredded, the erasure is in the ledger, and the old
// ciphertexts are purged. Pending replies to the old id are dropped with it.
//
// Move refuses to merge: if the new subject already holds a conversation, a
// field or a consent record, nothing is copied and the old subject is erased
// all the same (the customer starts afresh on the new id rather than mixing
// two people's data if the new number was reassigned). Either way the move
// is audited with pseudonyms only (action "subject.move").
//
// Move is safe to repeat after a crash: a crash after the copy and before
// the erasure leaves the new subject holding the data, so a second Move is
// refused and only erases the old subject.
func (v *Vault) Move(from, to SubjectID, now time.Time) (MoveResult, error) {
	r := MoveResult{From: from, To: to}
	if from == to {
		return r, fmt.Errorf("vault: move %s: old and new subject are the same", from)
	}
	var fresh bool
	var err error
	for range 2 {
		err = v.update(func(txn kvTxn) error {
			r.States, r.Fields, r.Consents, fresh = 0, 0, 0, false
			return v.moveTxn(txn, from, to, now, &r, &fresh)
		})
		if !errors.Is(err, errPurgePending) {
			break
		}
		// The new subject was erased and its purge has not run yet.
		if err = v.purge([]SubjectID{to}); err != nil {
			break
		}
	}
	if err != nil {
		return MoveResult{}, fmt.Errorf("vault: move %s: %w", from, err)
	}
	if fresh {
		v.keyCreated(to)
	}
	if r.Erasure, err = v.Erase(from, now); err != nil {
		return MoveResult{}, fmt.Errorf("vault: move %s: %w", from, err)
	}
	detail := map[string]string{"to": to.Hex(), "outcome": r.Outcome,
		"states": fmt.Sprint(r.States), "fields": fmt.Sprint(r.Fields), "consents": fmt.Sprint(r.Consents),
		"erasure": r.Erasure.ID}
	if err := v.Audit("channel", "subject.move", from.Hex(), detail); err != nil {
		return r, fmt.Errorf("vault: move %s: %w", from, err)
	}
	return r, nil
}

// moveTxn copies from's data to to inside txn and sets r.Outcome.
func (v *Vault) moveTxn(txn kvTxn, from, to SubjectID, now time.Time, r *MoveResult, fresh *bool) error {
	src, err := v.liveKey(txn, from, false, now)
	if err != nil {
		return err
	}
	if src == nil {
		r.Outcome = MoveNothing
		return nil
	}
	type rec struct {
		key   []byte
		hdr   valHdr
		plain []byte
	}
	var recs []rec // (old storage key, header, plaintext)
	collect := func(k []byte, item kvItem, skipExpired bool) error {
		return item.Value(func(b []byte) error {
			h, ok := parseHdr(b)
			if !ok {
				return ErrCorrupt
			}
			if skipExpired && h.expired(now) {
				return nil
			}
			pt, err := openValue(src.aead, k, b)
			if err != nil {
				return err
			}
			recs = append(recs, rec{key: append([]byte(nil), k...), hdr: h, plain: pt})
			return nil
		})
	}
	if item, err := txn.Get(keyS(from)); err == nil {
		if err := collect(keyS(from), item, false); err != nil {
			return err
		}
		r.States = 1
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	n := len(recs)
	if err := txn.Scan(prefixF(from), true, func(k []byte, item kvItem) error {
		return collect(k, item, true)
	}); err != nil {
		return err
	}
	r.Fields = len(recs) - n
	n = len(recs)
	if err := txn.Scan(prefixC(from), true, func(k []byte, item kvItem) error {
		return collect(k, item, false)
	}); err != nil {
		return err
	}
	r.Consents = len(recs) - n
	if len(recs) == 0 {
		r.Outcome = MoveNothing
		return nil
	}
	if tk, err := v.readKey(txn, to); err != nil {
		return err
	} else if tk != nil && tk.status == keyErased {
		return errPurgePending
	}
	held, err := v.holdsData(txn, to, now)
	if err != nil {
		return err
	}
	if held {
		r.Outcome, r.States, r.Fields, r.Consents = MoveRefused, 0, 0, 0
		return nil
	}
	dst, err := v.liveKey(txn, to, true, now)
	if err != nil {
		return err
	}
	*fresh = dst.fresh
	oldPrefix := len("s/") + subjectLen // "s/", "f/" and "c/" all have two bytes
	for _, x := range recs {
		k := append([]byte(nil), x.key[:2]...)
		k = append(append(k, to...), x.key[oldPrefix:]...)
		val, err := sealValue(dst.aead, k, x.hdr, x.plain)
		clear(x.plain)
		if err != nil {
			return err
		}
		if x.hdr.expiry == 0 {
			err = txn.Set(k, val)
		} else {
			err = txn.SetTTL(k, val, time.Duration(x.hdr.expiry-now.UnixNano())+ttlMargin)
		}
		if err != nil {
			return err
		}
	}
	r.Outcome = MoveMoved
	return nil
}

// holdsData reports whether s has a conversation state, an unexpired field
// or a consent record (a data key alone, made for a pending inbound message,
// does not count).
func (v *Vault) holdsData(txn kvTxn, s SubjectID, now time.Time) (bool, error) {
	if _, err := txn.Get(keyS(s)); err == nil {
		return true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	found := false
	err := txn.Scan(prefixF(s), true, func(_ []byte, item kvItem) error {
		return item.Value(func(b []byte) error {
			if h, ok := parseHdr(b); ok && !h.expired(now) {
				found = true
			}
			return nil
		})
	})
	if err != nil || found {
		return found, err
	}
	err = txn.Scan(prefixC(s), false, func([]byte, kvItem) error {
		found = true
		return nil
	})
	return found, err
}
