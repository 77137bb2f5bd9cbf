package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
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

func hmacSum(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}
