package vault

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Erase erases everything held about the subject.
//
// At once, in one fsynced transaction: the wrapped data key is replaced by an
// "erased" marker (crypto-shredding: every sealed value of the subject, in
// live files, stale versions and caches, is unreadable from here on), pending
// outbox entries of the subject are deleted, and the erasure is recorded in
// e/<s> and, fsynced before the store changes, in erasures.log. Right after
// that transaction the subject's pending inbox entries are deleted from the
// inbox DB (not fsynced: they are sealed under the destroyed key, so they are
// unreadable whether or not the delete survives a power cut; a message that
// arrives during the erasure is left unreadable and removed by Sweep).
//
// Then, batched (Options.PurgeDelay), Purge drops the subject's prefixes with
// DropPrefix, which removes every version of the old key and values from the
// files. The purge is batched because DropPrefix rewrites the tables that
// hold the prefix and blocks writes meanwhile (hundreds of ms on a large
// store), while the erasure proper must be fast.
func (v *Vault) Erase(s SubjectID, now time.Time) (Receipt, error) {
	return v.erase(s, now, true)
}

// erase is Erase; notify false queues no erasure notices to the subject's
// recipients (Move: the customer asked for no erasure, and the recipient
// records went with the data).
func (v *Vault) erase(s SubjectID, now time.Time, notify bool) (Receipt, error) {
	var r Receipt
	inboxKeys, inboxPending, err := v.inboxOfSubject(s)
	if err != nil {
		return Receipt{}, fmt.Errorf("vault: erase %s: %w", s, err)
	}
	var pending *ledgerEntry
	err = v.update(func(txn kvTxn) error {
		pending = nil
		at := now
		if v.opts.HistoryNow != nil {
			at = v.opts.HistoryNow()
		}
		r = Receipt{Subject: s, At: v.ledger.notBefore(at).UTC()}
		sk, err := v.readKey(txn, s)
		if err != nil {
			return err
		}
		keyID := ""
		if sk != nil {
			keyID = hex.EncodeToString(sk.id)
		}
		if sk != nil && sk.status == keyLive {
			r.KeyDestroyed = true
			if err := v.countSubject(txn, s, &r); err != nil {
				return err
			}
			if notify {
				if r.Notices, err = v.queueErasureNotices(txn, s, sk, now); err != nil {
					return err
				}
			}
		}
		r.Inbox = inboxPending
		// Out of the team's hand-off queue (the transcript went with the
		// fields).
		if err := txn.Delete(keyHQ(s)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if r.Outbox, err = deleteQueued(txn, prefixOut, s); err != nil {
			return err
		}
		if err := dropWork(txn, s); err != nil {
			return err
		}
		r.PurgePending = sk != nil
		r.ID = receiptID(&r, keyID)
		e := ledgerEntry{Subject: string(s), KeyID: keyID, At: r.At, Receipt: r.ID}
		if v.ledger.ls != nil {
			// A ledger table is written after the commit: inside the
			// transaction it would need a second pooled connection. A
			// crash in between leaves the e/ record, which the next Open
			// copies into the ledger before acknowledging anything.
			pending = &e
			return v.markErased(txn, s, sk, e)
		}
		// The ledger file first: if we crash after this line, Open finishes
		// the erasure; if we crash before it, nothing was acknowledged.
		if err := v.ledger.append(e); err != nil {
			return err
		}
		return v.markErased(txn, s, sk, e)
	})
	if err == nil && pending != nil {
		err = v.ledger.append(*pending)
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("vault: erase %s: %w", s, err)
	}
	if err := v.durable(); err != nil {
		return Receipt{}, fmt.Errorf("vault: erase %s: %w", s, err)
	}
	v.forgetSubject(s)
	if len(r.Notices) > 0 {
		v.kickNotices()
	}
	if err := v.dropInbox(inboxKeys); err != nil {
		return Receipt{}, fmt.Errorf("vault: erase %s: inbox: %w", s, err)
	}
	if r.PurgePending {
		select {
		case v.purgeKick <- struct{}{}:
		default:
		}
	}
	return r, nil
}

// markErased destroys the subject's wrapped key in place and queues the
// physical purge. The marker keeps k/<s> live on purpose: DropPrefix skips
// prefixes without a live key, and it is DropPrefix that removes the old
// versions holding the wrapped key.
func (v *Vault) markErased(txn kvTxn, s SubjectID, sk *subjectKey, e ledgerEntry) error {
	eb, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := txn.Set(keyE(s), eb); err != nil {
		return err
	}
	if sk == nil {
		return nil
	}
	v.ciphers.forget(sk.cached)
	m := make([]byte, keyHdrLen)
	m[0], m[1] = 1, keyErased
	copy(m[2:18], sk.id)
	binary.BigEndian.PutUint64(m[18:], uint64(e.At.UnixNano()))
	if err := txn.Set(keyK(s), m); err != nil {
		return err
	}
	return txn.Set(keyPQ(s), nil)
}

func (v *Vault) countSubject(txn kvTxn, s SubjectID, r *Receipt) error {
	if _, err := txn.Get(keyS(s)); err == nil {
		r.States = 1
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err := txn.Scan(prefixF(s), true, func(_ []byte, item kvItem) error {
		return item.Value(func(b []byte) error {
			if h, ok := parseHdr(b); ok && h.flags&flagDead == 0 {
				r.Fields++
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return txn.Scan(prefixC(s), false, func([]byte, kvItem) error {
		r.Consents++
		return nil
	})
}

// Purge physically removes every erased subject still waiting for it. It
// blocks all writes while Badger drops the prefixes.
func (v *Vault) Purge() error {
	var subjects []SubjectID
	err := v.view(func(txn kvReader) error {
		return txn.Scan([]byte("pq/"), false, func(k []byte, _ kvItem) error {
			subjects = append(subjects, SubjectID(k[3:]))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("vault: purge: %w", err)
	}
	return v.purge(subjects)
}

// purgeBatch bounds how many subjects one DropPrefix call drops: writes are
// blocked for its whole run, so a long queue is purged in slices with
// writes let through in between.
const purgeBatch = 256

func (v *Vault) purge(subjects []SubjectID) error {
	for batch := range slices.Chunk(subjects, purgeBatch) {
		if err := v.purgeSome(batch); err != nil {
			return err
		}
	}
	return nil
}

func (v *Vault) purgeSome(subjects []SubjectID) error {
	v.purgeMu.Lock()
	defer v.purgeMu.Unlock()
	v.dropMu.Lock()
	defer v.dropMu.Unlock()
	var prefixes [][]byte
	var done []SubjectID
	err := v.view(func(txn kvReader) error {
		for _, s := range subjects {
			sk, err := v.readKey(txn, s)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				return err
			}
			if sk != nil && sk.status == keyLive {
				continue // a new key was made after the purge was queued
			}
			prefixes = append(prefixes, subjectPrefixes(s)...)
			done = append(done, s)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: purge: %w", err)
	}
	if err := v.dropPrefixes(prefixes); err != nil {
		return fmt.Errorf("vault: purge: %w", err)
	}
	err = v.updateHeld(func(txn kvTxn) error {
		for _, s := range subjects {
			if err := txn.Delete(keyPQ(s)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: purge: %w", err)
	}
	if err := v.durable(); err != nil {
		return err
	}
	v.log.Info("vault purge", "subjects", len(done))
	return nil
}

// dropPrefixes removes every version of the records under prefixes (a
// DropPrefix on Badger); the caller holds dropMu.
func (v *Vault) dropPrefixes(prefixes [][]byte) error { return v.purgePrefixes(prefixes) }

func (v *Vault) purgeLoop() {
	defer v.wg.Done()
	for {
		select {
		case <-v.stop:
			return
		case <-v.purgeKick:
		}
		t := time.NewTimer(v.opts.PurgeDelay)
		select {
		case <-v.stop:
			t.Stop()
			return // Close purges
		case <-t.C:
		}
		if err := v.Purge(); err != nil {
			v.log.Warn("vault purge", "err", err)
		}
	}
}

// applyLedger makes the store agree with the erasure ledger: e/ entries
// missing from the file are added to it (a lost or new ledger file), and any
// subject whose destroyed key is back (restored from an older backup, or a
// crash between ledger append and commit) is erased and purged again, before
// the vault serves anyone.
func (v *Vault) applyLedger() error {
	if err := v.applyLedgerEntries(); err != nil {
		return err
	}
	return v.noticeRestore()
}

// noticeRestore, on a store with a ledger table, tells an older copy of
// the records put back (a dump restored) from the ledger table: it lists
// erasures the records lack, or its audit head is ahead of theirs. The
// erasures were re-applied (applyLedgerEntries) and the restore is logged;
// a shorter audit chain is recorded in the audit log as Restore records
// one on Badger, naming the head it replaces, so that AuditVerify accepts
// it and the evidence stays in the chain.
func (v *Vault) noticeRestore() error {
	if v.ledger.ls == nil {
		return nil
	}
	hf, ok, err := v.readAuditHead()
	if err != nil && !errors.Is(err, ErrAuditTampered) {
		return err
	}
	var head auditHead
	if err := v.view(func(txn kvReader) error { return getJSON(txn, keyAuditHead, &head) }); err != nil {
		return err
	}
	if v.ledgerAhead == 0 && (!ok || hf.Head.Seq <= head.Seq) {
		return nil
	}
	v.log.Warn("vault records are older than the erasure ledger table: an older copy of the database was restored; the ledger's erasures were re-applied",
		"erasures_reapplied", v.ledgerAhead, "records_audit_seq", head.Seq, "ledger_audit_seq", hf.Head.Seq)
	if !ok || hf.Head.Seq <= head.Seq {
		// Only erasures ahead: the records may also be between another
		// instance's ledger write and its erasure, a race Open must not
		// record as a restore. The erasure was re-applied either way.
		return nil
	}
	detail := map[string]string{"detected": "true", "ledger_ahead": strconv.Itoa(v.ledgerAhead),
		"replaced_seq": strconv.FormatUint(hf.Head.Seq, 10), "replaced_hash": hf.Head.Hash}
	v.auditMu.Lock()
	defer v.auditMu.Unlock()
	v.auditFileChecked = true
	return v.appendAudit("parley", "restore", "", detail, true)
}

// applyLedgerEntries merges the records' e/ entries into the ledger and
// erases again every subject whose live key the ledger says was destroyed.
func (v *Vault) applyLedgerEntries() error {
	var fromDB []ledgerEntry
	err := v.view(func(txn kvReader) error {
		return txn.Scan([]byte("e/"), true, func(_ []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				var e ledgerEntry
				if json.Unmarshal(b, &e) == nil && e.Subject != "" {
					fromDB = append(fromDB, e)
				}
				return nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("vault: read erasure ledger: %w", err)
	}
	// Erasures the ledger lists and the records do not: the records are
	// older than the ledger (an older copy was restored).
	inDB := map[string]bool{}
	for _, e := range fromDB {
		inDB[e.Subject+"/"+e.KeyID] = true
	}
	v.ledgerAhead = 0
	for _, e := range v.ledger.snapshot() {
		if !inDB[e.Subject+"/"+e.KeyID] {
			v.ledgerAhead++
		}
	}
	for _, e := range fromDB {
		if err := v.ledger.append(e); err != nil {
			return err
		}
	}
	var again []SubjectID
	for _, e := range v.ledger.snapshot() {
		if e.KeyID == "" {
			continue
		}
		s := SubjectID(e.Subject)
		err := v.update(func(txn kvTxn) error {
			sk, err := v.readKey(txn, s)
			if err != nil || sk == nil || sk.status != keyLive || hex.EncodeToString(sk.id) != e.KeyID {
				return err
			}
			again = append(again, s)
			return v.markErased(txn, s, sk, e)
		})
		if err != nil {
			return fmt.Errorf("vault: re-apply erasure of %s: %w", s, err)
		}
	}
	if len(again) > 0 {
		v.log.Warn("vault re-applied erasures from the ledger", "subjects", len(again))
	}
	if err := v.durable(); err != nil {
		return err
	}
	return v.Purge()
}

func sortConsents(cs []ConsentRecord) {
	slices.SortFunc(cs, func(a, b ConsentRecord) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
}
