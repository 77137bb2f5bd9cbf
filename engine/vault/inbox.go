package vault

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// The inbox lives in its own small Badger instance (Dir/inbox) so that the
// fsync every inbound message needs before the webhook answers 200 never
// touches the main database. Badger's DB.Sync holds the DB's lock shared
// while it syncs the log; every write batch takes that lock exclusively, and
// a waiting writer holds off every new reader: one fsync of the main DB
// stalls all of its reads and writes. With the inbox apart, an inbox fsync
// stalls only other inbox writes.
//
// Inbox DB keys (pseudonyms only):
//
//	in/<h>     dedupe marker of message id hash h: seq, subject, arrival
//	           (Badger TTL: dedupe window + margin)
//	iq/<seq>   pending message: subject, arrival, payload sealed under the
//	           subject's DEK (AAD: the storage key), h, id of that DEK
//	m/seq/inbox the inbox sequence
//
// Processing is recorded in the main DB, in the transaction of the turn:
// ip/<h> holds the seq it processed (Badger TTL: dedupe window + margin). A
// pending entry with a matching ip/ marker is processed, whatever the inbox
// DB still says. Its payload is deleted from the inbox DB only after the
// main DB was synced (syncAndPurge): deleting it earlier could keep the
// (synced) inbox delete and lose the (unsynced) turn in a power cut, and the
// message with it. Until then the synced inbox entry is what makes an
// unsynced turn safe: after a power cut that loses the turn, the ip/ marker
// is gone too, and the message is processed again.

// inboxSubdir holds the inbox DB, opened with engine/store/badger's Small
// profile (low memory: it holds dedupe markers and the few messages not
// processed yet).
const inboxSubdir = "inbox"

var (
	prefixIQ = []byte("iq/")
	prefixIn = []byte("in/")
	prefixIP = []byte("ip/")
	keySeqIn = []byte("m/seq/inbox")
)

// inboxRef names one pending inbox entry: the hash of its message id, its
// seq and its subject.
type inboxRef struct {
	hash    string
	seq     uint64
	subject SubjectID
}

func (v *Vault) inboxHash(msgID string) string {
	return v.dedupeMAC.hex(20, msgID)
}
func keyIn(h string) []byte { return []byte("in/" + h) }
func keyIP(h string) []byte { return []byte("ip/" + h) }

type inMarker struct {
	seq     uint64
	subject string
	at      time.Time
	done    bool // written by stores before the inbox had its own DB
}

func (m inMarker) encode() []byte {
	e := sizedEnc(len(m.subject))
	e.uint(m.seq)
	e.str(m.subject)
	e.time(m.at)
	e.bool(m.done)
	return e.b
}

func decodeIn(b []byte) (inMarker, error) {
	d := dec{b: b}
	m := inMarker{seq: d.uint(), subject: d.str(), at: d.time(), done: d.bool()}
	return m, d.err
}

// rawIQ is an iq/ entry as stored, still sealed.
type rawIQ struct {
	seq     uint64
	subject SubjectID
	at      time.Time
	sealed  []byte
	hash    string
	keyID   []byte
}

func (q *rawIQ) encode() []byte {
	e := sizedEnc(len(q.subject) + len(q.sealed) + len(q.hash) + len(q.keyID))
	e.str(string(q.subject))
	e.time(q.at)
	e.bytes(q.sealed)
	e.str(q.hash)
	e.bytes(q.keyID)
	return e.b
}

func decodeIQ(k, b []byte) (rawIQ, error) {
	d := dec{b: b}
	q := rawIQ{seq: parseSeq(k, len(prefixIQ)), subject: SubjectID(d.str()), at: d.time(),
		sealed: bytes.Clone(d.bytes()), hash: d.str(), keyID: bytes.Clone(d.bytes())}
	if d.err != nil {
		return rawIQ{}, ErrCorrupt
	}
	return q, nil
}

// readInbox returns the inbox entries that keep(subject) accepts (all if keep
// is nil), in seq order.
func (v *Vault) readInbox(keep func(SubjectID) bool) ([]rawIQ, error) {
	var out []rawIQ
	err := v.inboxView(func(txn kvReader) error {
		return txn.Scan(prefixIQ, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				q, err := decodeIQ(k, b)
				if err != nil {
					return err
				}
				if keep == nil || keep(q.subject) {
					out = append(out, q)
				}
				return nil
			})
		})
	})
	return out, err
}

// processed reports whether the main DB marks entry seq of hash processed.
func processed(txn kvReader, hash string, seq uint64) (bool, error) {
	item, err := txn.Get(keyIP(hash))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var got uint64
	err = item.Value(func(b []byte) error {
		d := dec{b: b}
		got = d.uint()
		return d.err
	})
	return err == nil && got == seq, err
}

// keyIDOf returns the id of the subject's live data key without unwrapping
// it (nil if the subject has no live key).
func keyIDOf(txn kvReader, s SubjectID) ([]byte, error) {
	item, err := txn.Get(keyK(s))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var id []byte
	err = item.Value(func(b []byte) error {
		if len(b) >= keyHdrLen && b[0] == 1 && b[1] == keyLive {
			id = bytes.Clone(b[2:18])
		}
		return nil
	})
	return id, err
}

// InboxItem is one inbound message of InboxPutBatch.
type InboxItem struct {
	MsgID   string
	Subject SubjectID
	Payload []byte
}

// inboxTxnMessages bounds the messages of one inbox transaction: the inbox
// DB's small memtable caps a transaction's size (Badger: 15% of it).
const inboxTxnMessages = 128

// InboxPut stores an inbound message durably (fsynced before it returns, so
// the webhook can answer 200) unless its id was seen within
// Options.DedupeWindow, in which case dup is true and nothing is stored. The
// payload holds message text, so it is sealed under the subject's key.
func (v *Vault) InboxPut(msgID string, s SubjectID, payload []byte, now time.Time) (dup bool, err error) {
	dups, err := v.InboxPutBatch([]InboxItem{{MsgID: msgID, Subject: s, Payload: payload}}, now)
	if err != nil {
		return false, err
	}
	return dups[0], nil
}

// InboxPutBatch stores the messages of one webhook request with one group
// commit: every message is written, then the inbox DB is fsynced once (and
// the main DB once before it if a message's data key is not on stable
// storage yet), so an acknowledgement after it returns is durable for all
// of them. dups[i] reports items[i] seen within Options.DedupeWindow (or
// earlier in items): it is not stored. Stored messages take inbox seqs in
// the order of items, the order a rescan replays them in.
//
// It writes to and fsyncs the inbox DB only. The one exception is a data
// key the main DB does not hold on stable storage yet (a subject's first
// message, or a key made by an unsynced write less than a SyncInterval ago):
// the main DB is synced first, or a power cut could keep the sealed payload
// and lose the key that opens it. On an error some messages may be stored:
// a redelivery finds them as duplicates.
func (v *Vault) InboxPutBatch(items []InboxItem, now time.Time) (dups []bool, err error) {
	dups, err = v.inboxPutBatch(items, now)
	if err != nil {
		return nil, fmt.Errorf("vault: inbox put: %w", err)
	}
	return dups, nil
}

func (v *Vault) inboxPutBatch(items []InboxItem, now time.Time) ([]bool, error) {
	dups := make([]bool, len(items))
	hashes := make([]string, len(items))
	inBatch := make(map[string]bool, len(items))
	for i, it := range items {
		h := v.inboxHash(it.MsgID)
		hashes[i] = h
		dups[i] = inBatch[h]
		inBatch[h] = true
	}
	// Seqs in the order of items; messages grouped by subject, so each
	// subject's key is read (or made) once. A message found to be a
	// duplicate later leaves its seq unused.
	qs := make([]rawIQ, len(items))
	var subjects []SubjectID
	bySubject := map[SubjectID][]int{}
	for i, it := range items {
		if dups[i] {
			continue
		}
		seq, err := v.nextSeq(kvTx{}, "inbox")
		if err != nil {
			return nil, err
		}
		qs[i] = rawIQ{seq: seq, subject: it.Subject, at: now, hash: hashes[i]}
		if _, ok := bySubject[it.Subject]; !ok {
			subjects = append(subjects, it.Subject)
		}
		bySubject[it.Subject] = append(bySubject[it.Subject], i)
	}
	if len(subjects) == 0 {
		return dups, nil
	}
	// Sealed under the subject's key (erasure) and a transient key (the
	// payload's own short life), held from sealing until it is written.
	v.tk.use.RLock()
	defer v.tk.use.RUnlock()
	seal := func(s SubjectID, sk *subjectKey) error {
		tk, err := v.tk.current(now)
		if err != nil {
			return err
		}
		for _, i := range bySubject[s] {
			if dups[i] {
				continue
			}
			q := &qs[i]
			qk := seqKey(prefixIQ, q.seq)
			var pe enc
			pe.str(items[i].MsgID)
			pe.bytes(items[i].Payload)
			q.keyID = sk.id
			inner, err := sealValue(sk.aead, qk, valHdr{}, pe.b)
			if err != nil {
				return err
			}
			if q.sealed, err = v.tk.seal(tk, qk, inner); err != nil {
				return err
			}
		}
		return nil
	}
	// Most messages come from a subject that has a key: it is read in
	// read-only transactions of many subjects each (one transaction per
	// subject cost most of a batch's time), and such a message is checked
	// for a duplicate once, in the inbox transaction that stores it.
	var keyless []SubjectID
	for chunk := range slices.Chunk(subjects, inboxTxnMessages) {
		err := v.view(func(txn kvReader) error {
			for _, s := range chunk {
				sk, err := v.liveKey(txn, s, false, now)
				if err != nil {
					return err
				}
				if sk == nil || sk.status != keyLive {
					keyless = append(keyless, s)
					continue
				}
				if err := seal(s, sk); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// A subject without a live key gets one only for a message that is not
	// a duplicate: a redelivery after an erasure makes no key.
	if len(keyless) > 0 {
		err := v.inboxView(func(txn kvReader) error {
			for _, s := range keyless {
				for _, i := range bySubject[s] {
					d, err := seenIn(txn, keyIn(hashes[i]), now, v.opts.DedupeWindow)
					if err != nil {
						return err
					}
					dups[i] = d
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		keyless = slices.DeleteFunc(keyless, func(s SubjectID) bool {
			return !slices.ContainsFunc(bySubject[s], func(i int) bool { return !dups[i] })
		})
	}
	for chunk := range slices.Chunk(keyless, inboxTxnMessages) {
		var fresh []SubjectID
		err := v.update(func(txn kvTxn) error {
			fresh = fresh[:0]
			for _, s := range chunk {
				sk, err := v.liveKey(txn, s, true, now)
				if err != nil {
					return err
				}
				if sk.fresh {
					fresh = append(fresh, s)
				}
				if err := seal(s, sk); err != nil {
					return err
				}
			}
			return nil
		})
		if errors.Is(err, errPurgePending) {
			// An erased subject writes again: its purge comes first, one
			// subject at a time.
			fresh = nil
			for _, s := range chunk {
				if err := v.withSubjectKey(s, now, func(_ kvTxn, sk *subjectKey) error { return seal(s, sk) }); err != nil {
					return nil, err
				}
			}
		} else if err != nil {
			return nil, err
		}
		for _, s := range fresh {
			v.keyCreated(s)
		}
	}
	var todo []int
	for i := range items {
		if !dups[i] {
			todo = append(todo, i)
		}
	}
	for chunk := range slices.Chunk(todo, inboxTxnMessages) {
		err := v.inboxUpdate(func(txn kvTxn) error {
			for _, i := range chunk {
				q := &qs[i]
				ik := keyIn(q.hash)
				// Another request may have stored the same id meanwhile.
				d, err := seenIn(txn, ik, now, v.opts.DedupeWindow)
				if dups[i] = d; err != nil || d {
					if err != nil {
						return err
					}
					continue
				}
				m := inMarker{seq: q.seq, subject: string(q.subject), at: now}
				if err := txn.SetTTL(ik, m.encode(), v.opts.DedupeWindow+ttlMargin); err != nil {
					return err
				}
				if err := enqueueWork(txn, QueueInbox, q.subject, q.seq); err != nil {
					return err
				}
				if err := txn.Set(seqKey(prefixIQ, q.seq), q.encode()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, s := range subjects {
		if v.keyUnsynced(s) {
			if err := v.durable(); err != nil {
				return nil, err
			}
			break
		}
	}
	if err := v.inboxDurable(); err != nil {
		return nil, err
	}
	if !v.Shared() {
		// On a store another instance may process it: its commit finds the
		// entry through the dedupe marker, and this map would only grow.
		v.inboxMu.Lock()
		for _, i := range todo {
			if !dups[i] {
				q := qs[i]
				v.inboxSeqs[q.hash] = inboxRef{hash: q.hash, seq: q.seq, subject: q.subject}
			}
		}
		v.inboxMu.Unlock()
	}
	return dups, nil
}

func seenIn(txn kvReader, ik []byte, now time.Time, window time.Duration) (bool, error) {
	item, err := txn.Get(ik)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var m inMarker
	if err := item.Value(func(b []byte) error { m, err = decodeIn(b); return err }); err != nil {
		return false, err
	}
	return now.Before(m.at.Add(window)), nil
}

// inboxDurable fsyncs the inbox DB with group commit; the main DB is not
// touched.
func (v *Vault) inboxDurable() error {
	if !v.needsSync() {
		return nil
	}
	return v.inboxGroup.sync(func() error {
		if v.opts.onSync != nil {
			v.opts.onSync(inboxSubdir)
		}
		return v.syncInboxDB()
	})
}

// InboxPending returns the unprocessed inbound messages in arrival order:
// inbox entries without a processed marker in the main DB. Entries of
// erased subjects (key destroyed) are skipped.
func (v *Vault) InboxPending() ([]InboxEntry, error) {
	raw, err := v.readInbox(nil)
	if err == nil {
		err = v.tk.refresh()
	}
	if err != nil {
		return nil, fmt.Errorf("vault: inbox pending: %w", err)
	}
	var out []InboxEntry
	err = v.view(func(txn kvReader) error {
		keys := map[SubjectID]*subjectKey{}
		for _, q := range raw {
			if done, err := processed(txn, q.hash, q.seq); err != nil || done {
				if err != nil {
					return err
				}
				continue
			}
			e, ok, err := v.openIQ(txn, keys, q)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: inbox pending: %w", err)
	}
	v.inboxMu.Lock()
	for _, e := range out {
		h := v.inboxHash(e.MsgID)
		v.inboxSeqs[h] = inboxRef{hash: h, seq: e.Seq, subject: e.Subject}
	}
	v.inboxMu.Unlock()
	return out, nil
}

// openIQ opens a pending inbox entry; ok is false when it is unreadable
// for good (its subject erased meanwhile, or its transient key gone): it is
// swept later.
func (v *Vault) openIQ(txn kvReader, keys map[SubjectID]*subjectKey, q rawIQ) (e InboxEntry, ok bool, err error) {
	sk, err := v.cachedKey(txn, keys, q.subject)
	if err != nil || sk == nil || !bytes.Equal(sk.id, q.keyID) {
		return InboxEntry{}, false, err
	}
	qk := seqKey(prefixIQ, q.seq)
	inner, _, err := v.tk.open(qk, q.sealed)
	if errors.Is(err, errKeyGone) {
		return InboxEntry{}, false, nil
	}
	if err != nil {
		return InboxEntry{}, false, err
	}
	pt, err := openValue(sk.aead, qk, inner)
	if err != nil {
		return InboxEntry{}, false, err
	}
	pd := dec{b: pt}
	e = InboxEntry{Seq: q.seq, MsgID: pd.str(), Payload: pd.bytes(), Subject: q.subject, At: q.at}
	if pd.err != nil {
		return InboxEntry{}, false, ErrCorrupt
	}
	return e, true, nil
}

// inboxRefOf finds the inbox entry of a message id: from memory (every entry
// put or listed by this process and not purged yet), else from the inbox
// DB's dedupe marker. The turn path thus never reads the inbox DB, whose
// fsyncs would stall it. found: the id is known; pending: its payload is
// still in the inbox DB.
func (v *Vault) inboxRefOf(msgID string) (ref inboxRef, found, pending bool, err error) {
	h := v.inboxHash(msgID)
	v.inboxMu.Lock()
	ref, found = v.inboxSeqs[h]
	v.inboxMu.Unlock()
	if found {
		return ref, true, true, nil
	}
	err = v.inboxView(func(txn kvReader) error {
		item, err := txn.Get(keyIn(h))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		err = item.Value(func(b []byte) error {
			m, err := decodeIn(b)
			if err == nil {
				ref, found = inboxRef{hash: h, seq: m.seq, subject: SubjectID(m.subject)}, true
			}
			return err
		})
		if err != nil {
			return err
		}
		_, err = txn.Get(seqKey(prefixIQ, ref.seq))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		pending = err == nil
		return err
	})
	return ref, found, pending, err
}

// markProcessed writes the processed marker of ref in a main DB transaction.
func (v *Vault) markProcessed(txn kvTxn, ref inboxRef, now time.Time) error {
	var e enc
	e.uint(ref.seq)
	e.time(now)
	return txn.SetTTL(keyIP(ref.hash), e.b, v.opts.DedupeWindow+ttlMargin)
}

// queuePurge lists a processed entry for deletion from the inbox DB after
// the next main DB sync.
func (v *Vault) queuePurge(refs ...inboxRef) {
	v.inboxMu.Lock()
	v.toPurge = append(v.toPurge, refs...)
	v.inboxMu.Unlock()
}

// InboxDone marks a message processed: its processed marker goes into the
// main DB, fsynced, so a processed message is not processed again after a
// power cut; the payload leaves the inbox DB after the next main DB sync and
// the dedupe marker stays for the rest of the window.
func (v *Vault) InboxDone(msgID string) error {
	ref, ok, _, err := v.inboxRefOf(msgID)
	if err == nil && !ok {
		err = ErrNotFound
	}
	if err == nil {
		now := v.now()
		v.tk.use.RLock()
		err = v.update(func(txn kvTxn) error { return v.markProcessed(txn, ref, now) })
		if err == nil {
			v.queuePurge(ref)
		}
		v.tk.use.RUnlock()
	}
	if err != nil {
		return fmt.Errorf("vault: inbox done: %w", err)
	}
	return v.durable()
}

// syncAndPurge is the periodic step: sync the main DB (under SyncCritical),
// then delete from the inbox DB the payloads whose processed marker that
// sync made durable. Only entries listed before the sync began are purged.
func (v *Vault) syncAndPurge() error {
	v.sapMu.Lock() // the sync loop, Close and the key rotation all call it
	defer v.sapMu.Unlock()
	v.inboxMu.Lock()
	n := len(v.toPurge)
	batch := slices.Clone(v.toPurge)
	v.inboxMu.Unlock()
	if v.needsSync() {
		if err := v.group.sync(v.syncMain); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	dels := make([][]byte, len(batch))
	for i, r := range batch {
		dels[i] = seqKey(prefixIQ, r.seq)
	}
	if err := v.inboxBatch(nil, dels); err != nil {
		return err
	}
	v.inboxMu.Lock()
	v.toPurge = slices.Clone(v.toPurge[n:])
	for _, r := range batch {
		if cur, ok := v.inboxSeqs[r.hash]; ok && cur.seq == r.seq {
			delete(v.inboxSeqs, r.hash)
		}
	}
	v.inboxMu.Unlock()
	return nil
}

// queueLeftovers lists, at Open, inbox entries already marked processed in
// the main DB (the process stopped before their purge); the first
// syncAndPurge deletes them.
func (v *Vault) queueLeftovers() error {
	raw, err := v.readInbox(nil)
	if err != nil || len(raw) == 0 {
		return err
	}
	var refs []inboxRef
	err = v.view(func(txn kvReader) error {
		for _, q := range raw {
			done, err := processed(txn, q.hash, q.seq)
			if err != nil {
				return err
			}
			if done {
				refs = append(refs, inboxRef{hash: q.hash, seq: q.seq, subject: q.subject})
			}
		}
		return nil
	})
	v.queuePurge(refs...)
	return err
}

// inboxOfSubject returns the inbox entries of s: all of them, and the
// number not processed yet (what an erasure receipt reports).
func (v *Vault) inboxOfSubject(s SubjectID) (keys [][]byte, pending int, err error) {
	raw, err := v.readInbox(func(x SubjectID) bool { return x == s })
	if err != nil || len(raw) == 0 {
		return nil, 0, err
	}
	err = v.view(func(txn kvReader) error {
		id, err := keyIDOf(txn, s)
		if err != nil {
			return err
		}
		for _, q := range raw {
			keys = append(keys, seqKey(prefixIQ, q.seq))
			done, err := processed(txn, q.hash, q.seq)
			if err != nil {
				return err
			}
			if !done && id != nil && bytes.Equal(id, q.keyID) {
				pending++
			}
		}
		return nil
	})
	return keys, pending, err
}

// dropInbox deletes the given inbox entries (no fsync: their payloads are
// sealed under keys already destroyed, or already processed).
func (v *Vault) dropInbox(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return v.inboxBatch(nil, keys)
}

// forgetSubject drops the in-memory references to the subject's entries.
func (v *Vault) forgetSubject(s SubjectID) {
	v.inboxMu.Lock()
	defer v.inboxMu.Unlock()
	for h, r := range v.inboxSeqs {
		if r.subject == s {
			delete(v.inboxSeqs, h)
		}
	}
}

// sweepInbox forgets dedupe markers past the window (inbox DB), processed
// markers past the window (main DB) and inbox entries nobody can read any
// more (key destroyed or replaced). It returns the number of dedupe markers
// removed.
func (v *Vault) sweepInbox(now time.Time) (int, error) {
	var staleIn, orphans, staleIP [][]byte
	err := v.inboxView(func(txn kvReader) error {
		return txn.Scan(prefixIn, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				if m, err := decodeIn(b); err == nil && !now.Before(m.at.Add(v.opts.DedupeWindow)) {
					staleIn = append(staleIn, bytes.Clone(k))
				}
				return nil
			})
		})
	})
	if err != nil {
		return 0, err
	}
	raw, err := v.readInbox(nil)
	if err != nil {
		return 0, err
	}
	err = v.view(func(txn kvReader) error {
		ids := map[SubjectID][]byte{}
		for _, q := range raw {
			id, ok := ids[q.subject]
			if !ok {
				if id, err = keyIDOf(txn, q.subject); err != nil {
					return err
				}
				ids[q.subject] = id
			}
			if id == nil || !bytes.Equal(id, q.keyID) {
				orphans = append(orphans, seqKey(prefixIQ, q.seq))
			}
		}
		return txn.Scan(prefixIP, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				d := dec{b: b}
				d.uint()
				if at := d.time(); d.err == nil && !now.Before(at.Add(v.opts.DedupeWindow)) {
					staleIP = append(staleIP, bytes.Clone(k))
				}
				return nil
			})
		})
	})
	if err != nil {
		return 0, err
	}
	if err := v.dropInbox(append(staleIn, orphans...)); err != nil {
		return 0, err
	}
	if err := v.deleteMain(staleIP); err != nil {
		return 0, err
	}
	return len(staleIn), nil
}

// deleteMain deletes keys from the main DB, in transactions of at most
// 1000 keys.
func (v *Vault) deleteMain(keys [][]byte) error {
	for chunk := range slices.Chunk(keys, 1000) {
		err := v.update(func(txn kvTxn) error {
			for _, k := range chunk {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// openInbox opens the inbox DB beside the main one and, for a store made
// before the inbox had its own DB, moves the inbox records over.
func (v *Vault) openInbox() error {
	var err error
	if v.bin, err = v.opts.badgerStore(inboxSubdir, labelInbox, true, false); err != nil {
		return err
	}
	v.ist = v.bin
	if err := v.seedInboxSeq(); err != nil {
		return err
	}
	return v.migrateInbox()
}

// seedInboxSeq starts a new inbox DB's sequence where the main DB's old
// inbox sequence stopped, so entries moved over keep unique seqs.
func (v *Vault) seedInboxSeq() error {
	var seed []byte
	err := v.view(func(txn kvReader) error {
		item, err := txn.Get(keySeqIn)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		seed, err = item.ValueCopy(nil)
		return err
	})
	if err != nil || seed == nil {
		return err
	}
	return v.inboxUpdate(func(txn kvTxn) error {
		if _, err := txn.Get(keySeqIn); err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return txn.Set(keySeqIn, seed)
	})
}

// migrateInbox moves in/ and iq/ records a store written before the split
// holds in its main DB into the inbox DB (synced), then deletes them from
// the main DB. Entries of erased subjects are dropped.
func (v *Vault) migrateInbox() error {
	var moved []store.Record
	var old [][]byte
	err := v.view(func(txn kvReader) error { // a legacy layout of the embedded Badger
		err := txn.Scan(prefixIn, true, func(k []byte, item kvItem) error {
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			moved = append(moved, store.Record{Key: bytes.Clone(k), Value: val, ExpiresAt: item.exp})
			old = append(old, bytes.Clone(k))
			return nil
		})
		if err != nil {
			return err
		}
		keys := map[SubjectID]*subjectKey{}
		return txn.Scan(prefixIQ, true, func(k []byte, item kvItem) error {
			old = append(old, bytes.Clone(k))
			return item.Value(func(b []byte) error {
				d := dec{b: b}
				q := rawIQ{seq: parseSeq(k, len(prefixIQ)), subject: SubjectID(d.str()), at: d.time(), sealed: bytes.Clone(d.bytes())}
				if d.err != nil {
					return nil
				}
				sk, err := v.cachedKey(txn, keys, q.subject)
				if err != nil || sk == nil {
					return err
				}
				pt, err := openValue(sk.aead, k, q.sealed)
				if err != nil {
					return nil
				}
				pd := dec{b: pt}
				q.hash, q.keyID = v.inboxHash(pd.str()), sk.id
				tk, err := v.tk.current(v.now())
				if err != nil {
					return err
				}
				if q.sealed, err = v.tk.seal(tk, k, q.sealed); err != nil {
					return err
				}
				moved = append(moved, store.Record{Key: bytes.Clone(k), Value: q.encode()})
				return nil
			})
		})
	})
	if err != nil || len(old) == 0 {
		return err
	}
	if err := v.batchOn(v.ist, moved, nil); err != nil {
		return err
	}
	if err := v.syncInboxDB(); err != nil {
		return err
	}
	if err := v.batchOn(v.st, nil, old); err != nil {
		return err
	}
	v.log.Info("vault moved the inbox into its own database", "records", len(old))
	return v.syncDB()
}

// inboxPendingCount counts the inbox entries not marked processed.
func (v *Vault) inboxPendingCount() (int, error) {
	raw, err := v.readInbox(nil)
	if err != nil || len(raw) == 0 {
		return 0, err
	}
	n := 0
	err = v.view(func(txn kvReader) error {
		for _, q := range raw {
			done, err := processed(txn, q.hash, q.seq)
			if err != nil {
				return err
			}
			if !done {
				n++
			}
		}
		return nil
	})
	return n, err
}
