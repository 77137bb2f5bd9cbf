package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/parleyhq/parley/engine/store"
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

// auditMark names one entry of the chain by its sequence number and the
// hash of its canonical bytes. The zero mark is the start of an empty chain.
type auditMark struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// auditHead is the m/audit-head value: the last entry, and its time, so
// that a new entry is never dated before it.
type auditHead struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at,omitzero"`
}

// auditHeadFile is the content of the head file kept outside the store
// (beside erasures.log) and copied into every backup. Head is the last entry
// written; Anchor is the last entry deleted by audit retention (the chain
// goes on from its hash). A store that ends before Head, or whose entry
// Head.Seq hashes differently, was truncated, re-chained or rolled back.
type auditHeadFile struct {
	Head   auditMark `json:"head"`
	Anchor auditMark `json:"anchor"`
}

var (
	keyAuditHead   = []byte("m/audit-head")
	keyAuditAnchor = []byte("m/audit-anchor")
)

// auditHeadName is the head file's name, in the erasure ledger's directory.
const auditHeadName = "audit.head"

// defaultAuditRetention is Options.AuditRetention's default: 2 years.
const defaultAuditRetention = 2 * 365 * 24 * time.Hour

func auditKey(seq uint64) []byte { return fmt.Appendf(nil, "a/%016x", seq) }

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// AuditEntry is one audit log entry as AuditEntries returns it. It holds no
// personal data: Subject is a pseudonymous subject id (or empty).
type AuditEntry struct {
	Seq     uint64            `json:"seq"`
	At      time.Time         `json:"at"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// Audit appends an entry to the hash-chained audit log, fsynced, and then
// records the new head in the head file. The entry is dated by the vault's
// clock (Options.Now), never by a caller's idea of the time, and never
// before the entry it follows. subject is a pseudonymous subject id (or
// empty); actor, action and detail must not hold personal data.
func (v *Vault) Audit(actor, action, subject string, detail map[string]string) error {
	v.auditMu.Lock()
	defer v.auditMu.Unlock()
	return v.appendAudit(actor, action, subject, detail, false)
}

// appendAudit appends one entry; the caller holds auditMu. force rewrites
// the head file even when it disagrees with the store (a restore, which
// records the head it replaces in detail).
func (v *Vault) appendAudit(actor, action, subject string, detail map[string]string, force bool) error {
	if !force {
		v.auditCheckFile()
	}
	var head auditHead
	err := v.update(func(txn kvTxn) error {
		head = auditHead{}
		if err := getJSON(txn, keyAuditHead, &head); err != nil {
			return err
		}
		at := v.historyNow().UTC()
		if at.Before(head.At) {
			at = head.At
		}
		e := auditEntry{Seq: head.Seq + 1, At: at, Actor: actor, Action: action,
			Subject: subject, Detail: detail, Prev: head.Hash}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		head = auditHead{Seq: e.Seq, Hash: hashHex(b), At: at}
		hb, err := json.Marshal(head)
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
	if err := v.durable(); err != nil {
		return fmt.Errorf("vault: audit: %w", err)
	}
	if force {
		v.auditFileBroken = false
	}
	if v.auditFileBroken {
		return nil // the head file keeps the evidence; verify reports it
	}
	anchor, err := v.auditAnchor()
	if err != nil {
		return fmt.Errorf("vault: audit: %w", err)
	}
	return v.writeAuditHeadFile(auditHeadFile{Head: auditMark{head.Seq, head.Hash}, Anchor: anchor})
}

// getJSON decodes key's value into dst; a missing key leaves dst as it is.
func getJSON(txn kvReader, key []byte, dst any) error {
	item, err := txn.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return json.Unmarshal(b, dst) })
}

func (v *Vault) auditAnchor() (auditMark, error) {
	var a auditMark
	err := v.view(func(txn kvReader) error { return getJSON(txn, keyAuditAnchor, &a) })
	return a, err
}

// auditHeadPath is where the head file lives: beside the erasure ledger,
// outside the database directory. In-memory vaults have none.
func (v *Vault) auditHeadPath() string {
	if v.opts.ErasureLog == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(v.opts.ErasureLog), auditHeadName)
}

// readAuditHeadFile returns the head file's content; ok is false when there
// is no head file.
func readAuditHeadFile(path string) (hf auditHeadFile, ok bool, err error) {
	if path == "" {
		return hf, false, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return hf, false, nil
	}
	if err != nil {
		return hf, false, fmt.Errorf("vault: read audit head file: %w", err)
	}
	if err := json.Unmarshal(b, &hf); err != nil {
		return hf, true, fmt.Errorf("%w: the head file %s is unreadable", ErrAuditTampered, path)
	}
	return hf, true, nil
}

// readAuditHead returns the head file's content, or on a shared store with
// a ledger table the head kept there; ok is false when there is none.
func (v *Vault) readAuditHead() (hf auditHeadFile, ok bool, err error) {
	if v.ledger == nil || v.ledger.ls == nil {
		return readAuditHeadFile(v.auditHeadPath())
	}
	err = v.ledger.ls.LedgerScan(context.Background(), func(k, b []byte) error {
		if !bytes.Equal(k, ledgerAuditHead) {
			return nil
		}
		ok = true
		if json.Unmarshal(b, &hf) != nil {
			return fmt.Errorf("%w: the audit head in the ledger table is unreadable", ErrAuditTampered)
		}
		return nil
	})
	return hf, ok, err
}

func (v *Vault) writeAuditHeadFile(hf auditHeadFile) error {
	if v.ledger != nil && v.ledger.ls != nil {
		b, err := json.Marshal(hf)
		if err != nil {
			return err
		}
		if err := v.ledger.ls.LedgerPut(context.Background(), ledgerAuditHead, b); err != nil {
			return fmt.Errorf("vault: write audit head: %w", err)
		}
		return nil
	}
	path := v.auditHeadPath()
	if path == "" {
		return nil
	}
	b, err := json.Marshal(hf)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n'), v.needsSync()); err != nil {
		return fmt.Errorf("vault: write audit head file: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with b: a temporary file beside it, fsynced
// (when sync), renamed over path, and the directory fsynced, so a crash
// leaves either the old or the new content.
func writeFileAtomic(path string, b []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if sync {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

// auditCheckFile compares, once per process, the head file with the store
// before the first write to either. A store that does not extend the head
// file (truncated, re-chained, or an older copy put back) must not quietly
// overwrite the evidence: from then on the head file is left as it is and
// AuditVerify keeps failing. The caller holds auditMu.
func (v *Vault) auditCheckFile() {
	if v.auditFileChecked {
		return
	}
	v.auditFileChecked = true
	hf, ok, err := v.readAuditHead()
	if err != nil {
		v.auditFileBroken = true
		v.log.Warn("vault audit head file unreadable; it is left as it is", "err", err)
		return
	}
	if !ok {
		return
	}
	err = v.view(func(txn kvReader) error {
		var head auditHead
		var anchor auditMark
		if err := getJSON(txn, keyAuditHead, &head); err != nil {
			return err
		}
		if err := getJSON(txn, keyAuditAnchor, &anchor); err != nil {
			return err
		}
		return checkAgainstFile(txn, hf, head, anchor)
	})
	if err != nil {
		v.auditFileBroken = true
		v.log.Warn("vault audit log disagrees with its head file; the head file is left as it is", "err", err)
	}
}

// checkAgainstFile says how the store's chain (head, anchor) disagrees with
// the head file, or nil when the store is the file's chain, possibly with
// entries the file has not recorded yet (a crash between the two writes).
func checkAgainstFile(txn kvReader, hf auditHeadFile, head auditHead, anchor auditMark) error {
	if hf.Head.Seq > head.Seq {
		return fmt.Errorf("%w: the head file records %d entries but the log ends at entry %d: entries were removed from the end, or an older copy of the store was put back",
			ErrAuditTampered, hf.Head.Seq, head.Seq)
	}
	if anchor.Seq > hf.Anchor.Seq {
		return fmt.Errorf("%w: entries up to %d were removed from the start, but the head file says retention removed only up to %d",
			ErrAuditTampered, anchor.Seq, hf.Anchor.Seq)
	}
	for _, m := range []struct {
		what string
		mark auditMark
	}{{"last", hf.Head}, {"anchor", hf.Anchor}} {
		if m.mark.Seq == 0 || m.mark == anchor {
			continue
		}
		item, err := txn.Get(auditKey(m.mark.Seq))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: entry %d, the head file's %s entry, is missing", ErrAuditTampered, m.mark.Seq, m.what)
		}
		if err != nil {
			return err
		}
		b, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if hashHex(b) != m.mark.Hash {
			return fmt.Errorf("%w: entry %d is not the one the head file recorded: the log was altered and re-chained, or an older copy of the store was put back",
				ErrAuditTampered, m.mark.Seq)
		}
	}
	return nil
}

// AuditVerify walks the audit log and returns the number of entries kept.
// It returns ErrAuditTampered if an entry was edited (its hash no longer
// matches the next entry's prev, or the head), removed (a gap in the
// sequence, or a head past the end), reordered (a key that disagrees with the
// entry's seq) or dated before the entry it follows, and, for a vault on
// disk, if the store disagrees with the head file: entries removed from the
// end, re-chained, or the store rolled back to an older copy. Entries that
// audit retention deleted are not missing: the chain starts from the anchor
// (sequence and hash of the last deleted entry) in the store and the head
// file.
func (v *Vault) AuditVerify() (n int, err error) {
	v.auditMu.Lock()
	defer v.auditMu.Unlock()
	hf, hasFile, err := v.readAuditHead()
	if err != nil {
		return 0, err
	}
	err = v.view(func(txn kvReader) error {
		var anchor auditMark
		if err := getJSON(txn, keyAuditAnchor, &anchor); err != nil {
			return fmt.Errorf("%w: anchor unreadable", ErrAuditTampered)
		}
		prev := anchor.Hash
		want := anchor.Seq + 1
		var last time.Time
		err := txn.Scan([]byte("a/"), true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				var e auditEntry
				if err := json.Unmarshal(b, &e); err != nil {
					return fmt.Errorf("%w: entry %d unreadable", ErrAuditTampered, want)
				}
				if e.Seq <= anchor.Seq && bytes.Equal(k, auditKey(e.Seq)) {
					return nil // retention deleted it; the drop is still under way
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
				if e.At.Before(last) {
					return fmt.Errorf("%w: entry %d is dated before entry %d", ErrAuditTampered, want, want-1)
				}
				last = e.At
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
		switch {
		case errors.Is(err, store.ErrNotFound):
			if n > 0 {
				return fmt.Errorf("%w: head missing", ErrAuditTampered)
			}
		case err != nil:
			return err
		default:
			if err := item.Value(func(b []byte) error { return json.Unmarshal(b, &head) }); err != nil {
				return fmt.Errorf("%w: head unreadable", ErrAuditTampered)
			}
			if head.Seq != want-1 || head.Hash != prev {
				return fmt.Errorf("%w: log ends at %d, head says %d", ErrAuditTampered, want-1, head.Seq)
			}
		}
		if !hasFile {
			if v.auditHeadPath() != "" && head.Seq > 0 {
				return fmt.Errorf("%w: the head file %s is missing, so entries removed from the end cannot be ruled out",
					ErrAuditTampered, v.auditHeadPath())
			}
			return nil
		}
		return checkAgainstFile(txn, hf, head, anchor)
	})
	return n, err
}

// AuditFilter selects entries for AuditEntries. Zero values select all.
type AuditFilter struct {
	Subject SubjectID // only this subject's entries
	Since   time.Time // only entries at or after this time
}

// AuditEntries returns the audit log entries the filter selects, oldest
// first. It does not verify the chain (AuditVerify does).
func (v *Vault) AuditEntries(f AuditFilter) ([]AuditEntry, error) {
	var out []AuditEntry
	err := v.view(func(txn kvReader) error {
		var anchor auditMark
		if err := getJSON(txn, keyAuditAnchor, &anchor); err != nil {
			return err
		}
		return txn.Scan([]byte("a/"), true, func(_ []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				var e auditEntry
				if err := json.Unmarshal(b, &e); err != nil {
					return fmt.Errorf("%w: audit entry unreadable", ErrCorrupt)
				}
				if e.Seq <= anchor.Seq || (f.Subject != "" && e.Subject != string(f.Subject)) || e.At.Before(f.Since) {
					return nil
				}
				out = append(out, AuditEntry{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail})
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: audit: %w", err)
	}
	return out, nil
}

// sweepAudit deletes the audit entries older than Options.AuditRetention,
// judged by the vault's clock, every stored version of them (DropPrefix).
// The chain stays verifiable from the anchor: the sequence and hash of the
// last deleted entry, written to the head file first and then to the store,
// so a crash in between leaves an anchor the next sweep moves to. It
// returns the number of entries deleted.
func (v *Vault) sweepAudit() (int, error) {
	v.auditMu.Lock()
	defer v.auditMu.Unlock()
	v.auditCheckFile()
	cutoff := v.historyNow().Add(-v.opts.AuditRetention)
	var anchor, next auditMark
	var head auditHead
	var keys [][]byte
	err := v.view(func(txn kvReader) error {
		if err := getJSON(txn, keyAuditAnchor, &anchor); err != nil {
			return err
		}
		if err := getJSON(txn, keyAuditHead, &head); err != nil {
			return err
		}
		next = anchor
		errStop := errors.New("stop")
		err := txn.Scan([]byte("a/"), true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				var e auditEntry
				if err := json.Unmarshal(b, &e); err != nil {
					return fmt.Errorf("%w: audit entry unreadable", ErrCorrupt)
				}
				if e.Seq > anchor.Seq {
					// Entries are dated in order: the first young one ends it.
					if !e.At.Before(cutoff) {
						return errStop
					}
					next = auditMark{Seq: e.Seq, Hash: hashHex(b)}
				}
				keys = append(keys, bytes.Clone(k))
				return nil
			})
		})
		if errors.Is(err, errStop) {
			return nil
		}
		return err
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	if !v.auditFileBroken {
		if err := v.writeAuditHeadFile(auditHeadFile{Head: auditMark{head.Seq, head.Hash}, Anchor: next}); err != nil {
			return 0, err
		}
	}
	nb, err := json.Marshal(next)
	if err != nil {
		return 0, err
	}
	if err := v.update(func(txn kvTxn) error { return txn.Set(keyAuditAnchor, nb) }); err != nil {
		return 0, err
	}
	if err := v.durable(); err != nil {
		return 0, err
	}
	v.dropMu.Lock()
	defer v.dropMu.Unlock()
	if err := v.dropPrefixes(keys); err != nil {
		return 0, err
	}
	return int(next.Seq - anchor.Seq), nil
}
