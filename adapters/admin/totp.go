package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"time"
)

// TOTP per RFC 6238 as authenticator apps implement it: HMAC-SHA1, 30-second
// steps from the Unix epoch, 6 digits.
const (
	totpStep   = 30 * time.Second
	totpDigits = 6
	// totpSkew is how many steps either side of now a code is accepted,
	// for clocks that drift and people who type slowly.
	totpSkew = 1
	// totpSecretBytes is the secret length RFC 4226 recommends (160 bits).
	totpSecretBytes = 20
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpCode is the RFC 6238 code of secret at t, with h as the HMAC hash and
// digits digits (the RFC's test vectors use 8 and SHA-1, SHA-256, SHA-512).
func totpCode(h func() hash.Hash, secret []byte, t time.Time, digits int) string {
	return hotp(h, secret, uint64(t.Unix()/int64(totpStep/time.Second)), digits)
}

// hotp is RFC 4226's HOTP with dynamic truncation.
func hotp(h func() hash.Hash, secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(h, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// TOTPCode is the 6-digit code an authenticator app shows for the base32
// secret at t; tests and the CLI use it. ok is false for a bad secret.
func TOTPCode(secretB32 string, t time.Time) (string, bool) {
	secret, err := b32.DecodeString(strings.ToUpper(strings.ReplaceAll(secretB32, " ", "")))
	if err != nil || len(secret) == 0 {
		return "", false
	}
	return totpCode(sha1.New, secret, t, totpDigits), true
}

// newTOTPSecret returns a fresh random secret.
func newTOTPSecret() []byte {
	b := make([]byte, totpSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// verifyTOTP checks code against secret around now. A code whose step is
// not after lastStep is refused, so an observed code cannot be replayed.
// It returns the step that matched.
func verifyTOTP(secret []byte, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits {
		return 0, false
	}
	cur := now.Unix() / int64(totpStep/time.Second)
	matched := int64(-1)
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		want := hotp(sha1.New, secret, uint64(s), totpDigits)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep {
			matched = s
		}
	}
	return matched, matched >= 0
}

// totpURI is the otpauth:// URI that enrols secret in an authenticator
// app (the de facto Key Uri Format), shown as a QR code.
func totpURI(issuer, account string, secret []byte) string {
	label := url.PathEscape(issuer + ":" + account)
	q := url.Values{}
	q.Set("secret", b32.EncodeToString(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", "6")
	q.Set("period", "30")
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// groupSecret shows a base32 secret in groups of four, for typing by hand.
func groupSecret(secret []byte) string {
	s := b32.EncodeToString(secret)
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}
