package vault

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// The channel address of a subject (ch/<s>) is sealed twice: to the
// address key, an X25519 public key whose private half the operator keeps
// away from the server, and then under the subject's key. The server can
// write addresses but never read them back; someone holding the data
// directory and the master key cannot either. Only `parley incident
// notify`, given the private key, reads them, and erasure still shreds
// them with the subject's key.

const addressKeyLabel = "parley address key v1"

// NewAddressKey makes an address key pair, base64 encoded: the public key
// goes to the server (PARLEY_ADDRESS_KEY), the private key to a file only
// the people who notify customers after a breach can read.
func NewAddressKey() (public, private string, err error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(k.PublicKey().Bytes()), base64.StdEncoding.EncodeToString(k.Bytes()), nil
}

func decodeKey32(s, what string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("the %s is not a base64 X25519 key of 32 bytes (make one with 'parley incident keygen')", what)
	}
	return b, nil
}

// ParseAddressPublicKey reads a public address key written by NewAddressKey.
func ParseAddressPublicKey(s string) (*ecdh.PublicKey, error) {
	b, err := decodeKey32(s, "address public key")
	if err != nil {
		return nil, err
	}
	return ecdh.X25519().NewPublicKey(b)
}

// ParseAddressPrivateKey reads a private address key written by
// NewAddressKey.
func ParseAddressPrivateKey(s string) (*ecdh.PrivateKey, error) {
	b, err := decodeKey32(s, "address private key")
	if err != nil {
		return nil, err
	}
	return ecdh.X25519().NewPrivateKey(b)
}

// HoldAddresses makes every later turn with a channel address hold it,
// sealed to pub (see above). Without it no address is held.
func (v *Vault) HoldAddresses(pub *ecdh.PublicKey) { v.addrKey.Store(pub) }

// sealToAddressKey is ECIES on X25519: an ephemeral key, the shared secret
// through HKDF-SHA256, AES-256-GCM bound to aad. Output: ephemeral public
// key (32 bytes) || nonce || ciphertext.
func sealToAddressKey(pub *ecdh.PublicKey, pt, aad []byte) ([]byte, error) {
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	a, err := addressAEAD(eph, pub, eph.PublicKey().Bytes(), pub.Bytes())
	if err != nil {
		return nil, err
	}
	return seal(a, eph.PublicKey().Bytes(), pt, aad)
}

func openWithAddressKey(priv *ecdh.PrivateKey, ct, aad []byte) ([]byte, error) {
	if len(ct) < 32 {
		return nil, errOpen
	}
	ephPub, err := ecdh.X25519().NewPublicKey(ct[:32])
	if err != nil {
		return nil, errOpen
	}
	a, err := addressAEAD(priv, ephPub, ct[:32], priv.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	return open(a, ct[32:], aad)
}

func addressAEAD(priv *ecdh.PrivateKey, pub *ecdh.PublicKey, ephPub, recipient []byte) (cipher.AEAD, error) {
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, errors.New("vault: address key agreement failed")
	}
	salt := append(append([]byte{}, ephPub...), recipient...)
	key, err := hkdf.Key(sha256.New, shared, salt, addressKeyLabel, 32)
	clear(shared)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return newGCM(key)
}
