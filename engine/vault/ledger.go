package vault

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ledgerEntry is one line of erasures.log and the value of e/<subject>. It
// holds no personal data: a pseudonymous subject id, the random id of the
// data key that was destroyed, the time and the receipt id.
type ledgerEntry struct {
	Subject string    `json:"subject"`
	KeyID   string    `json:"key_id,omitempty"`
	At      time.Time `json:"at"`
	Receipt string    `json:"receipt"`
}

// ledger is the erasure ledger file kept beside the database. It is outside
// the restorable data set on purpose: restoring an older backup brings back
// the data but not a shorter ledger, and Open re-applies it.
type ledger struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	entries []ledgerEntry
	seen    map[string]bool // subject + "/" + key id
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
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Subject == "" {
			continue
		}
		l.add(e)
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("vault: read erasure ledger: %w", err)
	}
	return l, nil
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
	defer l.mu.Unlock()
	if !l.add(e) || l.f == nil {
		return nil
	}
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
