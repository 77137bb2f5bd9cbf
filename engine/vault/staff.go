package vault

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Staff records are the accounts, sign-in sessions and API tokens of the
// people and services that operate Parley (adapters/admin owns their
// shape; the vault stores them as opaque blobs). They are about staff, not
// customers: sealed under the meta key, stored under a keyed hash of their
// id so that the storage keys name no account, session or token:
//
//	st/<kind>/<hmac(id)>   sealed blob; clear 10-byte header: expiry (0: none)
//
// kind is one letter: a (account), s (session), t (API token).
var prefixStaff = []byte("st/")

// staffKinds maps the kind names of the API to their key letter.
var staffKinds = map[string]byte{"account": 'a', "session": 's', "token": 't'}

func (v *Vault) keyStaff(kind, id string) ([]byte, error) {
	letter, ok := staffKinds[kind]
	if !ok {
		return nil, fmt.Errorf("vault: unknown staff record kind %q", kind)
	}
	sum := hmacSum(v.subjectKey, "staff", kind, id)
	return append([]byte{'s', 't', '/', letter, '/'}, hex.EncodeToString(sum[:20])...), nil
}

// StaffPut stores blob as the staff record kind/id ("account", "session" or
// "token"), replacing any. A non-zero expires makes the record read as
// absent from then on (by the caller's clock, now) and lets storage drop it
// a margin later.
func (v *Vault) StaffPut(kind, id string, blob []byte, expires, now time.Time) error {
	k, err := v.keyStaff(kind, id)
	if err != nil {
		return err
	}
	h := valHdr{}
	if !expires.IsZero() {
		h.expiry = expires.UnixNano()
	}
	val, err := sealValue(v.meta, k, h, blob)
	if err != nil {
		return err
	}
	err = v.update(func(txn kvTxn) error {
		if expires.IsZero() {
			return txn.Set(k, val)
		}
		return txn.SetTTL(k, val, max(expires.Sub(now), 0)+ttlMargin)
	})
	if err != nil {
		return fmt.Errorf("vault: staff %s: %w", kind, err)
	}
	return nil
}

// StaffGet returns the staff record kind/id; found is false when there is
// none or it expired (by the clock now).
func (v *Vault) StaffGet(kind, id string, now time.Time) (blob []byte, found bool, err error) {
	k, err := v.keyStaff(kind, id)
	if err != nil {
		return nil, false, err
	}
	err = v.view(func(txn kvReader) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			h, ok := parseHdr(b)
			if !ok {
				return ErrCorrupt
			}
			if h.expired(now) {
				return store.ErrNotFound
			}
			pt, err := openValue(v.meta, k, b)
			if err != nil {
				return err
			}
			blob, found = pt, true
			return nil
		})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("vault: staff %s: %w", kind, err)
	}
	return blob, found, nil
}

// StaffList returns every unexpired staff record of kind, in storage order.
func (v *Vault) StaffList(kind string, now time.Time) ([][]byte, error) {
	letter, ok := staffKinds[kind]
	if !ok {
		return nil, fmt.Errorf("vault: unknown staff record kind %q", kind)
	}
	var out [][]byte
	// Staff records carry the same clear expiry header as fields, sealed
	// under the meta key instead of a subject's.
	meta := &subjectKey{aead: v.meta}
	err := v.view(func(txn kvReader) error {
		return scanLive(txn, []byte{'s', 't', '/', letter, '/'}, meta, now, func(pt []byte) error {
			out = append(out, pt)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: staff %s list: %w", kind, err)
	}
	return out, nil
}

// StaffDelete removes the staff record kind/id; removing none is no error.
func (v *Vault) StaffDelete(kind, id string) error {
	k, err := v.keyStaff(kind, id)
	if err != nil {
		return err
	}
	if err := v.update(func(txn kvTxn) error { return txn.Delete(k) }); err != nil {
		return fmt.Errorf("vault: staff %s: %w", kind, err)
	}
	return nil
}
