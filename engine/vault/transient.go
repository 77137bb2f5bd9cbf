package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Transient keys seal the payloads of the inbox (message text, phone
// number) and of the outbox (replies with names and emails) on top of the
// subject's data key. They are what makes a processed message or a sent
// reply unreadable within a bounded time, whatever Badger still keeps:
// deleting a record leaves its old versions in tables and value logs until
// a compaction, and a subject's data key lives as long as the subject. A
// transient key lives at most Options.TransientKeyPeriod as the current
// key; then the rotation (rotateTransient) re-seals the few entries still
// pending under a new key and destroys the old one. The keys are small
// files in Dir/keys, outside Badger, so destroying one is a real deletion
// (os.Remove), not a new version beside the old one.
//
// Cost on the hot path: one AES-GCM seal per inbox or outbox payload and a
// shared lock; the key file is written and fsynced once per period, not per
// message.

const (
	transientDir     = "keys"
	transientSuffix  = ".key"
	transientVersion = 2 // first byte of a wrapped payload; 1 is a plain sealValue
	transientIDLen   = 16
)

// prefixTK holds the transient keys on a store (Options.Store), where
// several instances share them; on Badger they are files in Dir/keys.
var prefixTK = []byte("tk/")

// errKeyGone: the transient key of a payload was destroyed; the payload is
// unreadable for good and is dropped.
var errKeyGone = errors.New("vault: transient key destroyed")

type transientKeys struct {
	dir    string      // "" in memory or on a store
	st     store.Store // Options.Store: the keys are tk/<id> records, shared
	now    func() time.Time
	wrap   cipher.AEAD
	period time.Duration
	fsync  bool

	// use: writers of wrapped payloads hold it shared from sealing until
	// their write is committed, the rotation exclusively, so no payload is
	// sealed under a key the rotation is about to destroy.
	use sync.RWMutex

	mu   sync.Mutex
	keys map[string]*tkey // by hex id
	cur  *tkey
}

type tkey struct {
	id   []byte
	born time.Time
	aead cipher.AEAD
}

func openTransient(o Options) (*transientKeys, error) {
	wk, err := derive(o.MasterKey, nil, labelTransient)
	if err != nil {
		return nil, err
	}
	t := &transientKeys{period: o.TransientKeyPeriod, keys: map[string]*tkey{},
		fsync: !o.InMemory && o.Sync != SyncNever}
	if t.wrap, err = newGCM(wk); err != nil {
		return nil, err
	}
	if o.Store != nil {
		t.st, t.now = o.Store, o.Now
		return t, t.load()
	}
	if o.InMemory {
		return t, nil
	}
	t.dir = filepath.Join(o.Dir, transientDir)
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: create %s: %w", t.dir, err)
	}
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		return nil, fmt.Errorf("vault: read %s: %w", t.dir, err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), transientSuffix)
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(t.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("vault: read transient key: %w", err)
		}
		k, err := t.unwrapKey(name, b)
		if err != nil {
			continue // damaged or foreign: unusable, removed at the next rotation
		}
		t.keys[name] = k
		if t.cur == nil || k.born.After(t.cur.born) {
			t.cur = k
		}
	}
	return t, nil
}

// load reads every transient key of the store at Open; the newest is the
// current one.
func (t *transientKeys) load() error { return t.readStore(true) }

// refresh adds the keys of the store this process does not know (made by
// another instance), before a transaction that opens payloads: fetching
// one inside it would need a second pooled connection (see nextSeq in
// kv.go). A no-op off a store.
func (t *transientKeys) refresh() error {
	if t.st == nil {
		return nil
	}
	return t.readStore(false)
}

func (t *transientKeys) readStore(adopt bool) error {
	return t.st.View(context.Background(), func(r store.Reader) error {
		return r.Scan(prefixTK, func(rec store.Record) error {
			name := string(rec.Key[len(prefixTK):])
			t.mu.Lock()
			defer t.mu.Unlock()
			if _, known := t.keys[name]; known {
				return nil
			}
			if k, err := t.unwrapKey(name, rec.Value); err == nil {
				t.keys[name] = k
				if adopt && (t.cur == nil || k.born.After(t.cur.born)) {
					t.cur = k
				}
			}
			return nil
		})
	})
}

// fetch reads one key from the store (nil when it is not there).
func (t *transientKeys) fetch(name string) *tkey {
	var k *tkey
	_ = t.st.View(context.Background(), func(r store.Reader) error {
		rec, err := r.Get(append(bytes.Clone(prefixTK), name...))
		if err == nil {
			k, _ = t.unwrapKey(name, rec.Value)
		}
		return nil
	})
	if k != nil {
		t.mu.Lock()
		t.keys[name] = k
		t.mu.Unlock()
	}
	return k
}

// A key file holds: born (8 bytes, unix nanos) | nonce | sealed key, the
// AAD binding id and birth time.
func (t *transientKeys) unwrapKey(name string, b []byte) (*tkey, error) {
	id, err := hex.DecodeString(name)
	if err != nil || len(id) != transientIDLen || len(b) < 8 {
		return nil, ErrCorrupt
	}
	raw, err := open(t.wrap, b[8:], t.keyAAD(id, b[:8]))
	if err != nil {
		return nil, ErrCorrupt
	}
	defer clear(raw)
	a, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	return &tkey{id: id, born: time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), aead: a}, nil
}

func (t *transientKeys) keyAAD(id, born []byte) []byte {
	return append(append([]byte("parley/vault/transient/"), id...), born...)
}

// current returns the key to seal with, making a new one (written and
// fsynced before it is used) when there is none or the current one is older
// than the period. The caller holds use shared or exclusive.
func (t *transientKeys) current(now time.Time) (*tkey, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil && now.Before(t.cur.born.Add(t.period)) {
		return t.cur, nil
	}
	raw, err := randomBytes(32)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	id, err := randomBytes(transientIDLen)
	if err != nil {
		return nil, err
	}
	born := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	if t.dir != "" || t.st != nil {
		val, err := seal(t.wrap, bytes.Clone(born), raw, t.keyAAD(id, born))
		if err != nil {
			return nil, err
		}
		if err := t.writeFile(hex.EncodeToString(id), val); err != nil {
			return nil, fmt.Errorf("vault: write transient key: %w", err)
		}
	}
	a, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	k := &tkey{id: id, born: now, aead: a}
	t.keys[hex.EncodeToString(id)] = k
	t.cur = k
	return k, nil
}

func (t *transientKeys) writeFile(name string, val []byte) error {
	if t.st != nil {
		return store.UpdateRetry(context.Background(), t.st, 50, func(txn store.Txn) error {
			return txn.Set(append(bytes.Clone(prefixTK), name...), val, time.Time{})
		})
	}
	p := filepath.Join(t.dir, name+transientSuffix)
	f, err := os.OpenFile(p+".tmp", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(val)
	if err == nil && t.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p+".tmp", p)
	}
	if err == nil {
		err = t.syncDir()
	}
	return err
}

func (t *transientKeys) syncDir() error {
	if !t.fsync {
		return nil
	}
	d, err := os.Open(t.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// due reports whether a rotation has work: a current key past its period,
// or older keys still on disk.
func (t *transientKeys) due(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys) > 1 || (t.cur != nil && !now.Before(t.cur.born.Add(t.period)))
}

// destroyAllBut removes every key except keep (nil: all of them), files
// first, so that what is gone from memory is gone from disk.
func (t *transientKeys) destroyAllBut(keep *tkey) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	var gone [][]byte
	for name, k := range t.keys {
		if k == keep {
			continue
		}
		if t.st != nil {
			// On a shared store a key born within the last period may be
			// another instance's current one: it goes at a later rotation
			// (so a payload is unreadable at most two periods on).
			if keep != nil && t.now().Sub(k.born) < t.period {
				continue
			}
			gone = append(gone, append(bytes.Clone(prefixTK), name...))
		}
		if t.dir != "" {
			if err := os.Remove(filepath.Join(t.dir, name+transientSuffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
		}
		delete(t.keys, name)
	}
	if t.cur != keep {
		t.cur = keep
	}
	if len(gone) > 0 {
		// Deleted and purged: every version physically gone (Store.Purge).
		errs = append(errs, t.st.Purge(context.Background(), gone...))
	}
	if t.dir != "" {
		// Leftovers of an interrupted write or of a damaged key file.
		if ents, err := os.ReadDir(t.dir); err == nil {
			for _, e := range ents {
				name := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".tmp"), transientSuffix)
				if _, ok := t.keys[name]; !ok {
					errs = append(errs, ignoreMissing(os.Remove(filepath.Join(t.dir, e.Name()))))
				}
			}
		}
		errs = append(errs, t.syncDir())
	}
	return errors.Join(errs...)
}

func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// seal wraps inner (already sealed under the subject's key) under k:
// version | key id | sealValue.
func (t *transientKeys) seal(k *tkey, storageKey, inner []byte) ([]byte, error) {
	out := make([]byte, 0, 1+transientIDLen+valHdrLen+nonceSize+len(inner)+tagSize)
	out = append(append(out, transientVersion), k.id...)
	sealed, err := sealValue(k.aead, storageKey, valHdr{}, inner)
	if err != nil {
		return nil, err
	}
	return append(out, sealed...), nil
}

// open unwraps what seal made; a plain sealValue (written before transient
// keys) is returned as is. errKeyGone: the key was destroyed.
func (t *transientKeys) open(storageKey, b []byte) (inner []byte, k *tkey, err error) {
	if len(b) > 0 && b[0] != transientVersion {
		return b, nil, nil
	}
	if len(b) < 1+transientIDLen {
		return nil, nil, ErrCorrupt
	}
	name := hex.EncodeToString(b[1 : 1+transientIDLen])
	t.mu.Lock()
	k = t.keys[name]
	t.mu.Unlock()
	if k == nil && t.st != nil {
		k = t.fetch(name) // another instance's key, or one made after Open
	}
	if k == nil {
		return nil, nil, errKeyGone
	}
	inner, err = openValue(k.aead, storageKey, b[1+transientIDLen:])
	return inner, k, err
}

// rotateTransient is the transient keys' lifecycle step, run by the sync
// loop and by Sweep: once the current key is past its period (or older keys
// remain), processed inbox payloads are purged (after a main DB sync, as
// always), the entries still pending are re-sealed under a new key, both
// databases are synced, and every other key is destroyed. A payload thus
// becomes unreadable at most one period (plus one sync tick) after its turn
// committed or its send was acknowledged. Outbox entries older than
// Options.OutboxMaxAge (never accepted by the channel) are deleted instead
// of re-sealed. force (Sweep) does the pass even when no key is due, so
// entries nobody can open (restored from a backup, whose transient keys
// are not in it) and outbox entries past their age are dropped anyway.
func (v *Vault) rotateTransient(now time.Time, force bool) error {
	if !force && !v.tk.due(now) {
		return nil
	}
	v.tk.use.Lock()
	defer v.tk.use.Unlock()
	// No writer is between sealing and committing now, and every committed
	// turn has queued its processed message for the purge.
	if err := v.syncAndPurge(); err != nil {
		return err
	}
	raw, err := v.readInbox(nil)
	if err != nil {
		return err
	}
	type rewrite struct {
		key []byte
		out *OutboxEntry // nil for an inbox entry
		iq  *rawIQ
	}
	var live []rewrite
	var dropIn, dropOut [][]byte
	err = v.view(func(txn kvReader) error {
		for i := range raw {
			q := &raw[i]
			k := seqKey(prefixIQ, q.seq)
			if done, err := processed(txn, q.hash, q.seq); err != nil || done {
				if err != nil {
					return err
				}
				dropIn = append(dropIn, k) // processed, its main DB marker synced above
				continue
			}
			live = append(live, rewrite{key: k, iq: q})
		}
		return txn.Scan(prefixOut, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				o, sealed, err := decodeOut(b)
				if err != nil {
					return err
				}
				if !now.Before(o.Created.Add(v.opts.OutboxMaxAge)) {
					dropOut = append(dropOut, bytes.Clone(k))
					return nil
				}
				o.Payload = bytes.Clone(sealed)
				live = append(live, rewrite{key: bytes.Clone(k), out: &o})
				return nil
			})
		})
	})
	if err != nil {
		return err
	}
	var keep *tkey
	var inbox, outbox []rewrite
	if len(live) > 0 {
		if keep, err = v.tk.current(now); err != nil {
			return err
		}
	}
	for _, r := range live {
		var sealed []byte
		if r.iq != nil {
			sealed = r.iq.sealed
		} else {
			sealed = r.out.Payload
		}
		inner, k, err := v.tk.open(r.key, sealed)
		if errors.Is(err, errKeyGone) || errors.Is(err, ErrCorrupt) {
			if r.iq != nil {
				dropIn = append(dropIn, r.key)
			} else {
				dropOut = append(dropOut, r.key)
			}
			continue
		}
		if err != nil {
			return err
		}
		if k == keep {
			continue
		}
		if sealed, err = v.tk.seal(keep, r.key, inner); err != nil {
			return err
		}
		if r.iq != nil {
			r.iq.sealed = sealed
			inbox = append(inbox, r)
		} else {
			r.out.Payload = sealed
			outbox = append(outbox, r)
		}
	}
	if len(inbox) > 0 {
		sets := make([]kvPair, len(inbox))
		for i, r := range inbox {
			sets[i] = kvPair{r.key, r.iq.encode()}
		}
		if err := v.inboxBatch(sets, nil); err != nil {
			return err
		}
	}
	if err := v.dropInbox(dropIn); err != nil {
		return err
	}
	for chunk := range slices.Chunk(outbox, 1000) {
		err := v.update(func(txn kvTxn) error {
			for _, r := range chunk {
				if err := txn.Set(r.key, encodeOut(r.out, r.out.Payload)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := v.deleteMain(dropOut); err != nil {
		return err
	}
	// The re-sealed copies must be on stable storage before the keys that
	// open the old ones go, or a power cut would lose pending messages.
	// (Deletions need not be: what a power cut brings back is unreadable.)
	if v.needsSync() && len(inbox)+len(outbox) > 0 {
		if err := v.inboxGroup.sync(v.syncInboxDB); err != nil {
			return err
		}
		if err := v.group.sync(v.syncMain); err != nil {
			return err
		}
	}
	return v.tk.destroyAllBut(keep)
}
