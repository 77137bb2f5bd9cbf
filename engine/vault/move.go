package vault

import (
	"errors"
	"fmt"
	"slices"
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
	// Recipients counts the recipient records that moved with the data.
	Recipients int
	// Reminders and Contacts count the scheduled reminders and broadcast
	// contacts that moved, readdressed to the new id (MoveTo only).
	Reminders, Contacts int
	// Erasure is the receipt of the old subject's erasure (always done).
	Erasure Receipt
}

// Move hands everything held about one subject to another: the customer
// changed the id the channel knows them by (a WhatsApp number change).
//
// In one transaction the conversation state, every unexpired field (with its
// purpose, basis, collection time and expiry unchanged: a move never extends
// retention), every consent record (same sequence, so the history keeps its
// order) and every unexpired recipient record are opened with the old
// subject's data key and sealed again under the new subject's key. A moved
// recipient record keeps the reference the integration knew the customer by
// (FormerRefs), so a later erasure or STOP on the new number still reaches
// it under that reference. Then the old subject is erased: its key is
// crypto-shredded, the erasure is in the ledger, and the old ciphertexts are
// purged. Pending replies to the old id are dropped with it. This erasure
// queues no erasure notices: the customer asked for none, and the
// recipients are still accountable to the new subject.
//
// Move refuses to merge: if the new subject already holds a conversation, a
// field, a consent or a recipient record, nothing is copied and the old
// subject is erased all the same (the customer starts afresh on the new id
// rather than mixing two people's data if the new number was reassigned).
// That erasure does queue erasure notices: once the old subject is gone no
// later request could reach its recipients any more. Either way the move is
// audited with pseudonyms only (action "subject.move").
//
// Move is safe to repeat after a crash: a crash after the copy and before
// the erasure leaves the new subject holding the data, so a second Move is
// refused and only erases the old subject, without notices, since the new
// subject's recipient records already carry the old references.
func (v *Vault) Move(from, to SubjectID, now time.Time) (MoveResult, error) {
	return v.MoveTo(from, to, "", "", now)
}

// MoveTo is Move for a customer whose new id on channel is addr: their
// scheduled reminders and broadcast contacts on that channel move too,
// readdressed to addr (they hold the address to send to, which must never
// stay the old number: it may be given to someone else). Those on another
// channel, and all of them when addr is empty (Move), are shredded with the
// old subject.
func (v *Vault) MoveTo(from, to SubjectID, channel, addr string, now time.Time) (MoveResult, error) {
	r := MoveResult{From: from, To: to}
	if from == to {
		return r, fmt.Errorf("vault: move %s: old and new subject are the same", from)
	}
	var fresh, carried bool
	var err error
	for range 2 {
		err = v.update(func(txn kvTxn) error {
			r.States, r.Fields, r.Consents, r.Recipients, r.Reminders, r.Contacts = 0, 0, 0, 0, 0, 0
			fresh, carried = false, false
			return v.moveTxn(txn, from, to, channel, addr, now, &r, &fresh, &carried)
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
	notify := r.Outcome == MoveRefused && !carried
	if r.Erasure, err = v.erase(from, now, notify); err != nil {
		return MoveResult{}, fmt.Errorf("vault: move %s: %w", from, err)
	}
	detail := map[string]string{"to": to.Hex(), "outcome": r.Outcome,
		"states": fmt.Sprint(r.States), "fields": fmt.Sprint(r.Fields), "consents": fmt.Sprint(r.Consents),
		"recipients": fmt.Sprint(r.Recipients), "reminders": fmt.Sprint(r.Reminders), "contacts": fmt.Sprint(r.Contacts),
		"erasure": r.Erasure.ID, "notices": fmt.Sprint(len(r.Erasure.Notices))}
	if err := v.Audit("channel", "subject.move", from.Hex(), detail); err != nil {
		return r, fmt.Errorf("vault: move %s: %w", from, err)
	}
	return r, nil
}

// moveTxn copies from's data to to inside txn and sets r.Outcome. carried
// reports, for a refused move, that to's recipient records already name
// from's references: an earlier Move copied them and crashed before the
// erasure.
func (v *Vault) moveTxn(txn kvTxn, from, to SubjectID, channel, addr string, now time.Time, r *MoveResult, fresh, carried *bool) error {
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
	n = len(recs)
	if err := txn.Scan(prefixR(from), true, func(k []byte, item kvItem) error {
		return collect(k, item, true)
	}); err != nil {
		return err
	}
	r.Recipients = len(recs) - n
	for i := n; i < len(recs); i++ {
		rc, err := decodeRecipient(recs[i].plain)
		clear(recs[i].plain)
		if err != nil {
			return err
		}
		rc.FormerRefs = append(rc.FormerRefs, v.RecipientRef(from, rc.Flow, rc.Integration))
		recs[i].plain = encodeRecipient(&rc)
	}
	if addr != "" {
		// Reminders and contacts, readdressed; those on another channel stay
		// behind and are shredded with the old subject.
		readdress := func(prefix []byte, count *int, fix func(pt []byte) ([]byte, bool, error)) error {
			n := len(recs)
			if err := txn.Scan(prefix, true, func(k []byte, item kvItem) error {
				return collect(k, item, true)
			}); err != nil {
				return err
			}
			kept := recs[:n]
			for _, x := range recs[n:] {
				pt, ok, err := fix(x.plain)
				clear(x.plain)
				if err != nil {
					return err
				}
				if ok {
					x.plain = pt
					kept = append(kept, x)
				}
			}
			*count = len(kept) - n
			recs = kept
			return nil
		}
		if err := readdress(prefixT(from), &r.Reminders, func(pt []byte) ([]byte, bool, error) {
			rm, err := decodeReminder(from, pt)
			if err != nil || rm.Channel != channel {
				return nil, false, err
			}
			rm.To = addr
			return encodeReminder(&rm), true, nil
		}); err != nil {
			return err
		}
		if err := readdress(prefixB(from), &r.Contacts, func(pt []byte) ([]byte, bool, error) {
			ct, err := decodeContact(from, pt)
			if err != nil || ct.Channel != channel {
				return nil, false, err
			}
			ct.To = addr
			return encodeContact(&ct), true, nil
		}); err != nil {
			return err
		}
	}
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
		r.Outcome, r.States, r.Fields, r.Consents, r.Recipients, r.Reminders, r.Contacts = MoveRefused, 0, 0, 0, 0, 0, 0
		*carried, err = v.carriesRefs(txn, from, to, now)
		return err
	}
	dst, err := v.liveKey(txn, to, true, now)
	if err != nil {
		return err
	}
	*fresh = dst.fresh
	oldPrefix := len("s/") + subjectLen // "s/", "f/", "c/", "r/", "t/" and "b/" all have two bytes
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

// carriesRefs reports whether one of to's recipient records names from's
// reference for it among its former ones.
func (v *Vault) carriesRefs(txn kvTxn, from, to SubjectID, now time.Time) (bool, error) {
	sk, err := v.liveKey(txn, to, false, now)
	if err != nil || sk == nil {
		return false, err
	}
	held, err := recipients(txn, to, sk, now)
	if err != nil {
		return false, err
	}
	for _, rc := range held {
		if slices.Contains(rc.FormerRefs, v.RecipientRef(from, rc.Flow, rc.Integration)) {
			return true, nil
		}
	}
	return false, nil
}

// holdsData reports whether s has a conversation state, an unexpired field,
// a consent record or an unexpired recipient record (a data key alone, made
// for a pending inbound message, does not count).
func (v *Vault) holdsData(txn kvTxn, s SubjectID, now time.Time) (bool, error) {
	if _, err := txn.Get(keyS(s)); err == nil {
		return true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	for _, p := range [][]byte{prefixF(s), prefixC(s), prefixR(s)} {
		found := false
		err := txn.Scan(p, true, func(_ []byte, item kvItem) error {
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
	}
	return false, nil
}
