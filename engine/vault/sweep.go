package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// SweepStats counts what one Sweep removed.
type SweepStats struct {
	// Expired fields (retention or session TTL over) dropped from the files.
	Expired int
	// Deleted fields (deleted, or session ended) dropped from the files.
	Deleted int
	// Dedupe markers of inbound messages past the dedupe window (inbox DB).
	// Processed markers past the window (main DB) and inbox entries of
	// erased subjects are removed too, uncounted.
	Dedupe int
	// Purged erased subjects whose files were purged.
	Purged int
	// Audit entries and erasures (ledger) past their retention, deleted by
	// sweepHistory (audit.go, ledger.go).
	Audit, Ledger int
	// States and Consents: conversation states and consent records past
	// their lifetime, dropped from the files.
	States, Consents int
	// Recipients: recipient records past RecipientKeep, dropped.
	Recipients int
	// Incidents: incident records past IncidentKeep, deleted.
	Incidents int
	// Reminders: reminders queued, cancelled or past their lifetime,
	// dropped.
	Reminders int
	// Contacts: broadcast contacts past their lifetime, dropped.
	Contacts int
	// Broadcasts: broadcast progress records past BroadcastKeep, dropped.
	Broadcasts int
	// Keys: data keys of subjects that held nothing any more, destroyed.
	Keys int
}

// Sweep physically removes expired and deleted fields (every stored version,
// via DropPrefix), forgets old inbound message ids, rotates the transient
// keys of inbox and outbox payloads, drops expired conversation states and
// consent records, destroys the keys of subjects that hold nothing,
// finishes pending erasure purges and then runs value-log GC (see
// Lifecycles). Expiry is judged against now; audit entries and erasures
// past their retention go too, judged by the vault's clock (sweepHistory).
// It blocks writes while Badger drops prefixes, so run it every few minutes
// or hours, not per turn.
func (v *Vault) Sweep(now time.Time) (SweepStats, error) {
	var st SweepStats
	err := v.sweepFields(now, &st)
	if err != nil {
		return st, fmt.Errorf("vault: sweep: %w", err)
	}
	if st.Dedupe, err = v.sweepInbox(now); err != nil {
		return st, fmt.Errorf("vault: sweep: %w", err)
	}
	if err := v.rotateTransient(now, true); err != nil {
		return st, fmt.Errorf("vault: sweep: transient keys: %w", err)
	}
	if err := v.sweepLifecycle(now, &st); err != nil {
		return st, fmt.Errorf("vault: sweep: %w", err)
	}
	var pending int
	_ = v.view(func(txn kvReader) error {
		return txn.Scan([]byte("pq/"), false, func([]byte, kvItem) error { pending++; return nil })
	})
	if err := v.Purge(); err != nil {
		return st, err
	}
	st.Purged = pending
	if st.Audit, st.Ledger, err = v.sweepHistory(); err != nil {
		return st, err
	}
	if st.Incidents, err = v.sweepIncidents(now); err != nil {
		return st, fmt.Errorf("vault: sweep: incidents: %w", err)
	}
	if c, ok := v.st.(store.Compactor); ok && st.Incidents > 0 && !v.embedded() {
		// An incident's sealed record would otherwise stay in the table
		// files until the next erasure's purge.
		if err := c.Compact(context.Background()); err != nil {
			return st, fmt.Errorf("vault: sweep: incidents: %w", err)
		}
	}
	if !v.embedded() {
		// What only a TTL bounds (dedupe and status records, markers)
		// leaves a store here; on Badger its TTL drops it at a compaction.
		// The rows go physically with the next Purge's VACUUM FULL.
		if _, err := v.st.DeleteExpired(context.Background(), nil); err != nil {
			return st, fmt.Errorf("vault: sweep: %w", err)
		}
	}
	if !v.opts.InMemory && v.embedded() {
		if err := v.bdb.CollectGarbage(context.Background()); err != nil {
			return st, fmt.Errorf("vault: sweep: %w", err)
		}
		if err := v.bin.CollectGarbage(context.Background()); err != nil {
			return st, fmt.Errorf("vault: sweep: %w", err)
		}
	}
	return st, nil
}

// dropFields drops the given field keys with DropPrefix. A key is a prefix of
// any longer field name of the same subject ("name" of "name2"), so such
// live siblings are read first and written back after the drop, with their
// Badger TTL unchanged.
// sweepFields drops every version of the fields deleted (STOP, forget:,
// rectify of a withdrawn answer) or expired at now, counting them in st.
func (v *Vault) sweepFields(now time.Time, st *SweepStats) error {
	return v.sweepFieldsUnder([]byte("f/"), now, st)
}

// SweepSubject physically removes the fields of one subject that are
// deleted or expired at now (every stored version, as Sweep does), and
// nothing of any other subject. The studio uses it with its test user's
// own clock, moved forward: a whole-vault Sweep at that time would delete
// real customers' data before it is due.
func (v *Vault) SweepSubject(s SubjectID, now time.Time) (SweepStats, error) {
	var st SweepStats
	if err := v.sweepFieldsUnder(prefixF(s), now, &st); err != nil {
		return st, fmt.Errorf("vault: sweep subject: %w", err)
	}
	return st, nil
}

func (v *Vault) sweepFieldsUnder(prefix []byte, now time.Time, st *SweepStats) error {
	var drop [][]byte
	err := v.view(func(txn kvReader) error {
		return txn.Scan(prefix, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				h, ok := parseHdr(b)
				if !ok || !h.expired(now) {
					return nil
				}
				if h.flags&flagDead != 0 {
					st.Deleted++
				} else {
					st.Expired++
				}
				drop = append(drop, bytes.Clone(k))
				return nil
			})
		})
	})
	if err != nil {
		return err
	}
	return v.dropFields(drop)
}

func (v *Vault) dropFields(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	v.dropMu.Lock()
	defer v.dropMu.Unlock()
	set := map[string]bool{}
	for _, k := range keys {
		set[string(k)] = true
	}
	return v.dropFieldsStore(keys, set)
}

// dropFieldsStore is dropFields on the store: the siblings are written
// back with their expiry after the purge.
func (v *Vault) dropFieldsStore(keys [][]byte, set map[string]bool) error {
	ctx := context.Background()
	var keep []store.Record
	err := v.st.View(ctx, func(txn store.Reader) error {
		for _, k := range keys {
			err := txn.Scan(k, func(r store.Record) error {
				if !set[string(r.Key)] {
					keep = append(keep, r)
					set[string(r.Key)] = true // once is enough
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := v.purgePrefixes(keys); err != nil {
		return err
	}
	return v.writeBack(keep)
}

// writeBack writes records read before a purge back after it, with their
// expiry; the caller holds dropMu, so no other write can come between.
func (v *Vault) writeBack(keep []store.Record) error {
	if len(keep) == 0 {
		return nil
	}
	return store.UpdateRetry(context.Background(), v.st, 50, func(txn store.Txn) error {
		for _, r := range keep {
			if err := txn.Set(r.Key, r.Value, r.ExpiresAt); err != nil {
				return err
			}
		}
		return nil
	})
}

// StartSweeper runs Sweep every interval until ctx is done or the vault is
// closed. Failures are logged (without personal data) and retried at the
// next tick.
func (v *Vault) StartSweeper(ctx context.Context, every time.Duration) {
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-v.stop:
				return
			case <-t.C:
				st, err := v.Sweep(v.now())
				if err != nil {
					if !errors.Is(err, store.ErrClosed) {
						v.log.Warn("vault sweep", "err", err)
					}
					continue
				}
				v.log.Info("vault sweep", "expired", st.Expired, "deleted", st.Deleted, "dedupe", st.Dedupe, "purged", st.Purged,
					"states", st.States, "consents", st.Consents, "keys", st.Keys)
			}
		}
	}()
}
