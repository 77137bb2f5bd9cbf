package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// HKDF labels. Each use of the master key gets its own label, so one derived
// key never gives away another.
const (
	labelBadger = "parley/vault/badger-encryption/v1"
	labelInbox  = "parley/vault/inbox-encryption/v1"
	labelKEK    = "parley/vault/kek/v1"
	labelMeta   = "parley/vault/meta/v1"
	labelBackup = "parley/vault/backup/v1"
	// labelTransient wraps the transient keys in Dir/keys (see transient.go).
	labelTransient = "parley/vault/transient-keys/v1"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

const (
	dekSize   = 32
	nonceSize = 12
	tagSize   = 16
)

func derive(master []byte, salt []byte, label string) ([]byte, error) {
	return hkdf.Key(sha256.New, master, salt, label, 32)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal appends nonce||ciphertext of pt to dst. aad binds the ciphertext to
// its storage key, so a value cannot be moved to another key or subject.
func seal(a cipher.AEAD, dst, pt, aad []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	if _, err := rand.Read(dst[n:]); err != nil {
		return nil, err
	}
	return a.Seal(dst, dst[n:n+nonceSize], pt, aad), nil
}

var errOpen = errors.New("authentication failed")

func open(a cipher.AEAD, ct, aad []byte) ([]byte, error) {
	if len(ct) < nonceSize+tagSize {
		return nil, errOpen
	}
	pt, err := a.Open(nil, ct[:nonceSize], ct[nonceSize:], aad)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return b, nil
}

// macKey is an HMAC-SHA256 key whose prepared states are pooled. hmac.New
// hashes the key into the inner and outer pads and allocates two SHA-256
// states every time; a turn computes several keyed hashes (the sender's
// subject id, the message id's dedupe hash, outbox keys), which showed in
// the CPU and allocation profiles of a load run. A pooled state is Reset,
// which restores the pads without rehashing the key. The pool holds the
// pepper-derived key, as the Vault's fields already do, and nothing else:
// no subject id and no message id outlives the call.
type macKey struct{ pool sync.Pool }

type macState struct {
	h   hash.Hash
	buf []byte // the message, concatenated, so Write gets one slice
	sum []byte
}

func newMACKey(key []byte) *macKey {
	k := append([]byte(nil), key...)
	m := &macKey{}
	m.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, k), buf: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
	}
	return m
}

// hex returns the lowercase hex of the first n bytes (n ≤ 32) of
// HMAC(key, parts joined), with one allocation: the string.
func (m *macKey) hex(n int, parts ...string) string {
	st := m.pool.Get().(*macState)
	st.buf = st.buf[:0]
	for _, p := range parts {
		st.buf = append(st.buf, p...)
	}
	st.h.Reset()
	st.h.Write(st.buf)
	st.sum = st.h.Sum(st.sum[:0])
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], st.sum[:n])
	clear(st.buf)
	m.pool.Put(st)
	return string(out[:2*n])
}

// subjectCiphers holds the AES-GCM of recently used subject keys, so a turn
// does not unwrap its subject's key and build a new cipher (key schedule
// and GHASH tables) every time: that was the largest allocation of Parley's
// own in a load run's profile. An entry is keyed by the subject and the whole
// stored key record, so the record in storage is read and checked on every
// use: an erased key (its record rewritten), a replaced one or an altered
// one never matches, and its entry is evicted at erasure. The cache is
// bounded (maxSubjectCiphers, about 1 KiB each); when full, an arbitrary
// entry makes room. It holds nothing the KEK in memory could not recover.
type subjectCiphers struct {
	mu sync.Mutex
	m  map[string]cipher.AEAD
}

const maxSubjectCiphers = 4096

func (c *subjectCiphers) get(k string) cipher.AEAD {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *subjectCiphers) put(k string, a cipher.AEAD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cipher.AEAD)
	}
	if len(c.m) >= maxSubjectCiphers {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = a
}

func (c *subjectCiphers) forget(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

func (c *subjectCiphers) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func hmacSum(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}
