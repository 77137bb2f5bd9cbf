package vault

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// ledgerEntry is one line of erasures.log and the value of e/<subject>. It
// holds no personal data: a pseudonymous subject id, the random id of the
// data key that was destroyed, the time and the receipt id.
//
// A line with Backup set instead of Subject is a backup mark: Backup writes
// one, with a random id it also records in the backup, before it copies the
// store. A ledger that holds a backup's mark was kept since that backup was
// taken, so it knows every erasure made after it (see Restore).
type ledgerEntry struct {
	Subject string    `json:"subject,omitempty"`
	KeyID   string    `json:"key_id,omitempty"`
	At      time.Time `json:"at"`
	Receipt string    `json:"receipt,omitempty"`
	Backup  string    `json:"backup,omitempty"`
}

// defaultLedgerRetention is Options.LedgerRetention's default: 2 years.
const defaultLedgerRetention = 2 * 365 * 24 * time.Hour

// ledger is the erasure ledger file kept beside the database. It is outside
// the restorable data set on purpose: restoring an older backup brings back
// the data but not a shorter ledger, and Open re-applies it.
//
// On a shared store that implements store.Ledger (PostgreSQL) the ledger
// is that table instead of a file (ls), with the same role: the store's
// records can be restored from an older dump, the ledger table is not.
type ledger struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	ls      store.Ledger // instead of the file
	entries []ledgerEntry
	seen    map[string]bool // subject + "/" + key id
	marks   []ledgerEntry   // backup marks
}

func openLedger(path string) (*ledger, error) {
	l := &ledger{path: path, seen: map[string]bool{}}
	if path == "" {
		return l, nil // in-memory vault without a ledger file
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: open erasure ledger: %w", err)
	}
	l.f = f
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e ledgerEntry
		// A torn last line (crash during append) is skipped: the erasure it
		// described was not acknowledged, and its e/ entry, if any, is
		// merged back at restore.
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch {
		case e.Backup != "":
			l.marks = append(l.marks, e)
		case e.Subject != "":
			l.add(e)
		}
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("vault: read erasure ledger: %w", err)
	}
	return l, nil
}

// openLedgerOn loads the ledger kept in a store's ledger table.
func openLedgerOn(ls store.Ledger) (*ledger, error) {
	l := &ledger{ls: ls, seen: map[string]bool{}}
	err := ls.LedgerScan(context.Background(), func(k, b []byte) error {
		var e ledgerEntry
		switch {
		case !bytes.HasPrefix(k, ledgerErasures) && !bytes.HasPrefix(k, ledgerMarks):
		case json.Unmarshal(b, &e) != nil:
		case e.Backup != "":
			l.marks = append(l.marks, e)
		case e.Subject != "":
			l.add(e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: read erasure ledger: %w", err)
	}
	return l, nil
}

// Keys of a ledger table: erasures, backup marks, the audit head.
var (
	ledgerErasures  = []byte("e/")
	ledgerMarks     = []byte("b/")
	ledgerAuditHead = []byte("audit.head")
)

// tableKey is e's key in a ledger table.
func (e ledgerEntry) tableKey() []byte {
	if e.Backup != "" {
		return append(bytes.Clone(ledgerMarks), e.Backup...)
	}
	return fmt.Appendf(bytes.Clone(ledgerErasures), "%s/%s", e.Subject, e.KeyID)
}

func (l *ledger) add(e ledgerEntry) bool {
	k := e.Subject + "/" + e.KeyID
	if l.seen[k] {
		return false
	}
	l.seen[k] = true
	l.entries = append(l.entries, e)
	return true
}

// append writes e and fsyncs before returning, so an erasure is on record
// before the store is changed.
func (l *ledger) append(e ledgerEntry) error {
	l.mu.Lock()
	if !l.add(e) || (l.f == nil && l.ls == nil) {
		l.mu.Unlock()
		return nil
	}
	if l.ls != nil {
		// Outside mu: a table write may wait for a pooled connection
		// that a transaction calling notBefore holds.
		l.mu.Unlock()
		err := l.put(e)
		if err != nil {
			l.mu.Lock()
			delete(l.seen, e.Subject+"/"+e.KeyID) // not on record: a retry writes it
			l.entries = slices.DeleteFunc(l.entries, func(x ledgerEntry) bool { return x == e })
			l.mu.Unlock()
		}
		return err
	}
	defer l.mu.Unlock()
	return l.write(e)
}

// put writes e to the ledger table.
func (l *ledger) put(e ledgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return l.ls.LedgerPut(context.Background(), e.tableKey(), b)
}

// notBefore returns t, or the time of the newest erasure or backup mark if
// that is later. An erasure is never dated before what the ledger already
// holds: a clock set back (parley chat --now in the past) would otherwise
// date it before the marks of backups taken earlier, the retention sweep
// would forget it first, and restoring such a backup would bring the
// subject back.
func (l *ledger) notBefore(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, es := range [][]ledgerEntry{l.entries, l.marks} {
		for _, e := range es {
			if e.At.After(t) {
				t = e.At
			}
		}
	}
	return t
}

// historyNow is the clock of history (Options.HistoryNow).
func (v *Vault) historyNow() time.Time {
	if v.opts.HistoryNow != nil {
		return v.opts.HistoryNow()
	}
	return v.now()
}

// mark appends a backup mark, fsynced.
func (l *ledger) mark(id string, at time.Time) error {
	e := ledgerEntry{Backup: id, At: at.UTC()}
	if l.ls != nil {
		if err := l.put(e); err != nil {
			return err
		}
		l.mu.Lock()
		l.marks = append(l.marks, e)
		l.mu.Unlock()
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.marks = append(l.marks, e)
	if l.f == nil {
		return nil
	}
	return l.write(e)
}

// hasMark reports whether the ledger holds the backup mark id.
func (l *ledger) hasMark(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.marks {
		if m.Backup == id {
			return true
		}
	}
	return false
}

// write appends one line and fsyncs; the caller holds mu.
func (l *ledger) write(e ledgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("vault: append erasure ledger: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("vault: sync erasure ledger: %w", err)
	}
	return syncDir(filepath.Dir(l.path))
}

func (l *ledger) snapshot() []ledgerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ledgerEntry(nil), l.entries...)
}

// expire forgets the erasures and backup marks dated before cutoff and
// rewrites the file without them (a new file renamed over the old one, so a
// crash leaves one or the other). It returns the number of erasures dropped.
func (l *ledger) expire(cutoff time.Time, sync bool) (int, error) {
	if l.ls != nil {
		// The table's rows first, outside mu (see append); a crash or an
		// error leaves rows the next sweep deletes.
		l.mu.Lock()
		var old []ledgerEntry
		for _, es := range [][]ledgerEntry{l.entries, l.marks} {
			for _, e := range es {
				if e.At.Before(cutoff) {
					old = append(old, e)
				}
			}
		}
		l.mu.Unlock()
		for _, e := range old {
			if err := l.ls.LedgerDelete(context.Background(), e.tableKey()); err != nil {
				return 0, fmt.Errorf("vault: erasure ledger retention: %w", err)
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := func(es []ledgerEntry) []ledgerEntry {
		var out []ledgerEntry
		for _, e := range es {
			if !e.At.Before(cutoff) {
				out = append(out, e)
			}
		}
		return out
	}
	entries, marks := keep(l.entries), keep(l.marks)
	dropped := len(l.entries) - len(entries)
	if dropped == 0 && len(marks) == len(l.marks) {
		return 0, nil
	}
	if l.f != nil {
		var buf []byte
		for _, e := range append(append([]ledgerEntry(nil), entries...), marks...) {
			b, err := json.Marshal(e)
			if err != nil {
				return 0, err
			}
			buf = append(append(buf, b...), '\n')
		}
		if err := writeFileAtomic(l.path, buf, sync); err != nil {
			return 0, fmt.Errorf("vault: rewrite erasure ledger: %w", err)
		}
		f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0o600)
		if err != nil {
			return 0, fmt.Errorf("vault: reopen erasure ledger: %w", err)
		}
		l.f.Close()
		l.f = f
	}
	l.entries, l.marks = entries, marks
	l.seen = map[string]bool{}
	for _, e := range entries {
		l.seen[e.Subject+"/"+e.KeyID] = true
	}
	return dropped, nil
}

func (l *ledger) close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// sweepLedger forgets erasures older than Options.LedgerRetention, judged by
// the vault's clock: their e/ entries are dropped from the store (every
// version) and their lines from erasures.log. Store first: applyLedger
// copies e/ entries into the file, never the other way round, so a crash
// in between is finished by the next sweep. It returns the number of
// erasures forgotten.
func (v *Vault) sweepLedger() (int, error) {
	cutoff := v.historyNow().Add(-v.opts.LedgerRetention)
	var keys [][]byte
	err := v.view(func(txn kvReader) error {
		return txn.Scan([]byte("e/"), true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				var e ledgerEntry
				if json.Unmarshal(b, &e) == nil && e.At.Before(cutoff) {
					keys = append(keys, bytes.Clone(k))
				}
				return nil
			})
		})
	})
	if err != nil {
		return 0, fmt.Errorf("vault: erasure ledger retention: %w", err)
	}
	if len(keys) > 0 {
		v.dropMu.Lock()
		err := v.dropPrefixes(keys)
		v.dropMu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("vault: erasure ledger retention: %w", err)
		}
	}
	return v.ledger.expire(cutoff, v.needsSync())
}

// sweepHistory applies the audit and erasure ledger retentions; Sweep
// calls it.
func (v *Vault) sweepHistory() (audit, ledger int, err error) {
	if audit, err = v.sweepAudit(); err != nil {
		return 0, 0, fmt.Errorf("vault: audit retention: %w", err)
	}
	ledger, err = v.sweepLedger()
	return audit, ledger, err
}
