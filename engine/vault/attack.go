package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"fmt"

	"github.com/parleyhq/parley/engine/store"
)

// Recovered is what an attacker holding a stopped vault's data directory
// and its master key can read.
type Recovered struct {
	// Plaintext holds every value, at every layer, that some key opened.
	Plaintext [][]byte
	// SubjectKeys counts the distinct subject data keys unwrapped from any
	// version of any k/ record; TransientKeys the transient key files.
	SubjectKeys, TransientKeys int
}

// Contains reports whether needle occurs in any recovered plaintext.
func (r *Recovered) Contains(needle []byte) bool {
	for _, p := range r.Plaintext {
		if bytes.Contains(p, needle) {
			return true
		}
	}
	return false
}

// AttackerView plays the attacker the lifecycle promises are made against
// (see Lifecycles and docs/privacy.md): it opens both Badger databases of
// the stopped vault in dir read-only, reads every version of every key
// Badger still holds (deleted and expired ones included), unwraps every
// subject key any version holds and every transient key file still on
// disk, and tries every key on every value. It is the yardstick of the
// lifecycle tests and can be run by an auditor; it changes no data.
func AttackerView(dir string, masterKey []byte) (*Recovered, error) {
	o := Options{Dir: dir, MasterKey: masterKey}
	if err := o.check(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	var all []kv
	for _, db := range []struct{ sub, label string }{{dbSubdir, labelBadger}, {inboxSubdir, labelInbox}} {
		bst, err := o.badgerStore(db.sub, db.label, db.sub == inboxSubdir, true)
		if err != nil {
			return nil, fmt.Errorf("vault: attacker view: open %s: %w", db.sub, err)
		}
		err = bst.ScanVersions(context.Background(), nil, func(ver store.Version) error {
			all = append(all, kv{ver.Key, ver.Value})
			return nil
		})
		if cerr := bst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("vault: attacker view: read %s: %w", db.sub, err)
		}
	}
	tk, err := openTransient(o)
	if err != nil {
		return nil, err
	}
	return recoverAll(all, tk, masterKey)
}

// AttackerViewStore is AttackerView for a vault on a shared store
// (Options.Store): someone holding the database and the master key reads
// every record and every transient key the store holds. What a store's
// files keep of deleted rows is checked against the raw files (the store
// tests; pgtest.Raw), not here.
func AttackerViewStore(st store.Store, masterKey []byte) (*Recovered, error) {
	o := Options{Store: st, MasterKey: masterKey}
	if err := o.check(); err != nil {
		return nil, err
	}
	var all []kv
	err := st.View(context.Background(), func(r store.Reader) error {
		return r.Scan(nil, func(rec store.Record) error {
			all = append(all, kv{rec.Key, rec.Value})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: attacker view: %w", err)
	}
	tk, err := openTransient(o.withDefaults())
	if err != nil {
		return nil, err
	}
	return recoverAll(all, tk, masterKey)
}

// kv is one stored key and value, any version.
type kv struct{ k, v []byte }

// recoverAll tries every subject and transient key on every value.
func recoverAll(all []kv, tk *transientKeys, masterKey []byte) (*Recovered, error) {
	r := &Recovered{}
	var keys []cipher.AEAD
	for _, k := range tk.keys {
		keys = append(keys, k.aead)
		r.TransientKeys++
	}
	kekKey, err := derive(masterKey, nil, labelKEK)
	if err != nil {
		return nil, err
	}
	kek, err := newGCM(kekKey)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range all {
		if !bytes.HasPrefix(e.k, []byte("k/")) || len(e.v) < keyHdrLen || e.v[1] != keyLive || seen[string(e.v[2:18])] {
			continue
		}
		dek, err := open(kek, e.v[keyHdrLen:], append(bytes.Clone(e.k), e.v[:keyHdrLen]...))
		if err != nil {
			continue
		}
		a, err := newGCM(dek)
		if err != nil {
			return nil, err
		}
		seen[string(e.v[2:18])] = true
		keys = append(keys, a)
		r.SubjectKeys++
	}
	for _, e := range all {
		blob := e.v
		switch {
		case bytes.HasPrefix(e.k, prefixIQ):
			if q, err := decodeIQ(e.k, e.v); err == nil {
				blob = q.sealed
			}
		case bytes.HasPrefix(e.k, prefixOut):
			if _, sealed, err := decodeOut(e.v); err == nil {
				blob = sealed
			}
		}
		r.peel(keys, e.k, blob, 0)
	}
	return r, nil
}

// peel opens blob with every key, as a plain sealed value and as a
// transient-wrapped one, and recurses into what it opened.
func (r *Recovered) peel(keys []cipher.AEAD, storageKey, blob []byte, depth int) {
	if depth > 2 || len(blob) == 0 {
		return
	}
	forms := [][]byte{blob}
	if blob[0] == transientVersion && len(blob) > 1+transientIDLen {
		forms = append(forms, blob[1+transientIDLen:])
	}
	for _, a := range keys {
		for _, b := range forms {
			pt, err := openValue(a, storageKey, b)
			if err != nil {
				continue
			}
			r.Plaintext = append(r.Plaintext, pt)
			r.peel(keys, storageKey, pt, depth+1)
		}
	}
}

// KindCount is what Census finds of one kind of record.
type KindCount struct {
	// Live records: the newest version of a key, neither deleted nor
	// expired; LiveBytes their keys and values.
	Live      int
	LiveBytes int64
	// Versions of every key the files still hold, deleted and expired
	// ones included (what compaction has not dropped yet).
	Versions int
}

// Census counts the records of the stopped vault in dir by kind, as an
// auditor holding the data directory and the master key reads them (both
// Badger databases opened read-only, every version, as AttackerView): a
// kind is the database ("db" or "inbox") and the key's prefix up to its
// first '/' ("db k/", "inbox iq/"), or "q name" for a queue entry. It reads
// keys and sizes only, no plaintext, and changes no data. Tools that build
// a data directory another way than a served conversation (bench/seed)
// compare their census with a served one's.
func Census(dir string, masterKey []byte) (map[string]KindCount, error) {
	o := Options{Dir: dir, MasterKey: masterKey}
	if err := o.check(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	kinds := map[string]KindCount{}
	for _, db := range []struct{ sub, label string }{{dbSubdir, labelBadger}, {inboxSubdir, labelInbox}} {
		bst, err := o.badgerStore(db.sub, db.label, db.sub == inboxSubdir, true)
		if err != nil {
			return nil, fmt.Errorf("vault: census: open %s: %w", db.sub, err)
		}
		var last []byte
		err = bst.ScanVersions(context.Background(), nil, func(ver store.Version) error {
			kind := db.sub + " " + recordKind(ver.Key)
			c := kinds[kind]
			c.Versions++
			if !bytes.Equal(ver.Key, last) { // the newest version of a key comes first
				last = append(last[:0], ver.Key...)
				if !ver.Gone {
					c.Live++
					c.LiveBytes += int64(len(ver.Key) + len(ver.Value))
				}
			}
			kinds[kind] = c
			return nil
		})
		if cerr := bst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("vault: census: read %s: %w", db.sub, err)
		}
	}
	return kinds, nil
}

// recordKind is the kind part of a key (see Census): the prefix up to its
// first '/', or the queue's name for a queue entry ('q', name, NUL, …).
func recordKind(k []byte) string {
	if i := bytes.IndexByte(k, '/'); i > 0 && i < 8 {
		return string(k[:i+1])
	}
	if len(k) > 1 && k[0] == 'q' {
		if i := bytes.IndexByte(k, 0); i > 0 {
			return "q " + string(k[1:i])
		}
	}
	if i := bytes.IndexByte(k, '!'); i == 0 {
		return "badger internal"
	}
	return "other"
}
