package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// argonParams are argon2id's cost parameters.
type argonParams struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
	KeyLen    uint32
	SaltLen   int
}

// passwordParams follow OWASP's Password Storage Cheat Sheet for argon2id
// (19 MiB, 2 passes, 1 thread): memory-hard, and cheap enough that the
// sign-in throttle, not the hash, bounds the server's work.
var passwordParams = argonParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// Password length limits: long enough to resist guessing at the throttle's
// pace, bounded so a huge body costs nothing to hash.
const (
	minPasswordChars = 12
	maxPasswordBytes = 256
)

// checkPasswordRules says in plain words what is wrong with a new password.
func checkPasswordRules(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid text")
	case utf8.RuneCountInString(pw) < minPasswordChars:
		return fmt.Errorf("the password is shorter than %d characters; a passphrase of a few words is easy to remember", minPasswordChars)
	case len(pw) > maxPasswordBytes:
		return fmt.Errorf("the password is longer than %d bytes", maxPasswordBytes)
	}
	return nil
}

// hashPassword returns the PHC string of pw under argon2id with p and a
// random salt: $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>.
func hashPassword(pw string, p argonParams) string {
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// parsePasswordHash reads a PHC string written by hashPassword.
func parsePasswordHash(phc string) (p argonParams, salt, key []byte, err error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errors.New("not an argon2id hash")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errors.New("bad argon2id parameters")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errors.New("bad argon2id salt")
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return p, nil, nil, errors.New("bad argon2id key")
	}
	if p.Time == 0 || p.MemoryKiB == 0 || p.Threads == 0 || p.MemoryKiB > 1<<22 || p.Time > 64 {
		return p, nil, nil, errors.New("argon2id parameters out of range")
	}
	p.KeyLen, p.SaltLen = uint32(len(key)), len(salt)
	return p, salt, key, nil
}

// checkPassword reports whether pw matches the PHC string phc.
func checkPassword(phc, pw string) bool {
	p, salt, key, err := parsePasswordHash(phc)
	if err != nil || len(pw) > maxPasswordBytes {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1
}

// dummyHash is checked when no account matches, so a wrong name costs as
// much time as a wrong password and timing does not tell which names exist.
var dummyHash = hashPassword("parley-no-such-account", passwordParams)

// Recovery codes: ten one-time codes of 10 base32 letters (50 bits) shown
// once at enrolment, stored as SHA-256 hashes: they are random, so a fast
// hash is enough.
const recoveryCodes = 10

var recoveryAlphabet = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newRecoveryCodes returns the codes to show (xxxxx-xxxxx) and their hashes.
func newRecoveryCodes() (codes, hashes []string) {
	for range recoveryCodes {
		b := make([]byte, 7)
		_, _ = rand.Read(b)
		s := recoveryAlphabet.EncodeToString(b)[:10]
		code := s[:5] + "-" + s[5:]
		codes = append(codes, code)
		hashes = append(hashes, hashRecovery(code))
	}
	return codes, hashes
}

// hashRecovery normalises a typed code (case, spaces, dash) and hashes it.
func hashRecovery(code string) string {
	code = strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code)))
	sum := sha256.Sum256([]byte("parley recovery code\x00" + code))
	return hex.EncodeToString(sum[:])
}

// useRecovery returns hashes without the one code matches, and whether one did.
func useRecovery(hashes []string, code string) ([]string, bool) {
	h := hashRecovery(code)
	for i, x := range hashes {
		if subtle.ConstantTimeCompare([]byte(x), []byte(h)) == 1 {
			return append(append([]string(nil), hashes[:i]...), hashes[i+1:]...), true
		}
	}
	return hashes, false
}
