package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrAuditTampered: the audit chain does not verify.
var ErrAuditTampered = errors.New("vault: audit log was altered")

// auditEntry is one a/<seq> value. Its canonical form is json.Marshal of
// this struct: fields in declaration order, map keys sorted.
type auditEntry struct {
	Seq     uint64            `json:"seq"`
	At      time.Time         `json:"at"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
	Prev    string            `json:"prev"`
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

var keyAuditHead = []byte("m/audit-head")

func auditKey(seq uint64) []byte { return fmt.Appendf(nil, "a/%016x", seq) }

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Audit appends an entry to the hash-chained audit log, fsynced. subject is
// a pseudonymous subject id (or empty); actor, action and detail must not
// hold personal data.
func (v *Vault) Audit(actor, action, subject string, detail map[string]string, now time.Time) error {
	v.auditMu.Lock()
	defer v.auditMu.Unlock()
	err := v.update(func(txn *badger.Txn) error {
		var head auditHead
		item, err := txn.Get(keyAuditHead)
		if err == nil {
			if err := item.Value(func(b []byte) error { return json.Unmarshal(b, &head) }); err != nil {
				return err
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		e := auditEntry{Seq: head.Seq + 1, At: now.UTC(), Actor: actor, Action: action,
			Subject: subject, Detail: detail, Prev: head.Hash}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		hb, err := json.Marshal(auditHead{Seq: e.Seq, Hash: hashHex(b)})
		if err != nil {
			return err
		}
		if err := txn.Set(auditKey(e.Seq), b); err != nil {
			return err
		}
		return txn.Set(keyAuditHead, hb)
	})
	if err != nil {
		return fmt.Errorf("vault: audit: %w", err)
	}
	return v.durable()
}

// AuditVerify walks the audit log and returns the number of entries. It
// returns ErrAuditTampered if an entry was edited (its hash no longer matches
// the next entry's prev, or the head), removed (a gap in the sequence, or a
// head past the end) or reordered (a key that disagrees with the entry's seq).
func (v *Vault) AuditVerify() (n int, err error) {
	err = v.db.View(func(txn *badger.Txn) error {
		prev := ""
		var want uint64 = 1
		err := scan(txn, []byte("a/"), true, func(k []byte, item *badger.Item) error {
			return item.Value(func(b []byte) error {
				var e auditEntry
				if err := json.Unmarshal(b, &e); err != nil {
					return fmt.Errorf("%w: entry %d unreadable", ErrAuditTampered, want)
				}
				canon, err := json.Marshal(e)
				if err != nil || !bytes.Equal(canon, b) {
					return fmt.Errorf("%w: entry %d not canonical", ErrAuditTampered, want)
				}
				if e.Seq != want || !bytes.Equal(k, auditKey(e.Seq)) {
					return fmt.Errorf("%w: entry %d missing or out of order", ErrAuditTampered, want)
				}
				if e.Prev != prev {
					return fmt.Errorf("%w: entry %d does not follow entry %d", ErrAuditTampered, want, want-1)
				}
				prev = hashHex(b)
				want++
				n++
				return nil
			})
		})
		if err != nil {
			return err
		}
		var head auditHead
		item, err := txn.Get(keyAuditHead)
		if errors.Is(err, badger.ErrKeyNotFound) {
			if n == 0 {
				return nil
			}
			return fmt.Errorf("%w: head missing", ErrAuditTampered)
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(b []byte) error { return json.Unmarshal(b, &head) }); err != nil {
			return fmt.Errorf("%w: head unreadable", ErrAuditTampered)
		}
		if head.Seq != uint64(n) || head.Hash != prev {
			return fmt.Errorf("%w: log ends at %d, head says %d", ErrAuditTampered, n, head.Seq)
		}
		return nil
	})
	return n, err
}
