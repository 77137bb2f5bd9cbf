package vault

import (
	"io/fs"
	"path/filepath"
)

// Stats are counts and sizes for operators; they hold no personal data.
type Stats struct {
	Subjects      int // subjects with a data key (including erased ones awaiting purge)
	Fields        int // live field records (expired ones not yet swept included)
	Consents      int
	InboxPending  int // inbox DB entries not marked processed in the main DB
	OutboxPending int
	AuditEntries  int
	Erasures      int
	PurgePending  int
	LSMBytes      int64 // Badger's own estimate, main and inbox DB
	VlogBytes     int64
	DiskBytes     int64 // every file under Dir
}

// Stats counts the store's records (a key-only scan) and sizes its files.
func (v *Vault) Stats() (Stats, error) {
	var st Stats
	counters := []struct {
		prefix string
		n      *int
	}{{"k/", &st.Subjects}, {"c/", &st.Consents}, {"out/", &st.OutboxPending},
		{"a/", &st.AuditEntries}, {"e/", &st.Erasures}, {"pq/", &st.PurgePending}}
	err := v.view(func(txn kvReader) error {
		for _, c := range counters {
			if err := txn.Scan([]byte(c.prefix), false, func([]byte, kvItem) error { *c.n++; return nil }); err != nil {
				return err
			}
		}
		return txn.Scan([]byte("f/"), true, func(_ []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				if h, ok := parseHdr(b); ok && h.flags&flagDead == 0 {
					st.Fields++
				}
				return nil
			})
		})
	})
	if err != nil {
		return st, err
	}
	if st.InboxPending, err = v.inboxPendingCount(); err != nil {
		return st, err
	}
	if v.embedded() {
		st.LSMBytes, st.VlogBytes = v.bdb.Size()
		lsm, vlog := v.bin.Size()
		st.LSMBytes += lsm
		st.VlogBytes += vlog
	}
	if v.opts.Dir != "" {
		_ = filepath.WalkDir(v.opts.Dir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					st.DiskBytes += info.Size()
				}
			}
			return nil
		})
	}
	return st, nil
}
