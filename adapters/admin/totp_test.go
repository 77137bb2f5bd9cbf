package admin

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strings"
	"testing"
	"time"
)

// TestTOTPRFC6238Vectors checks the code generator against every test
// vector of RFC 6238 appendix B (8 digits; SHA-1, SHA-256, SHA-512 with
// the RFC's seeds).
func TestTOTPRFC6238Vectors(t *testing.T) {
	seeds := map[string][]byte{
		"SHA1":   []byte("12345678901234567890"),
		"SHA256": []byte("12345678901234567890123456789012"),
		"SHA512": []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	hashes := map[string]func() hash.Hash{"SHA1": sha1.New, "SHA256": sha256.New, "SHA512": sha512.New}
	vectors := []struct {
		unix int64
		alg  string
		want string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	}
	for _, v := range vectors {
		if got := totpCode(hashes[v.alg], seeds[v.alg], time.Unix(v.unix, 0), 8); got != v.want {
			t.Errorf("T=%d %s: got %s, want %s", v.unix, v.alg, got, v.want)
		}
	}
	// The 6-digit code apps show is the last six digits of the same value.
	secret := b32.EncodeToString(seeds["SHA1"])
	if got, ok := TOTPCode(secret, time.Unix(59, 0)); !ok || got != "287082" {
		t.Errorf("TOTPCode(T=59) = %q, %v; want 287082", got, ok)
	}
}

// TestTOTPVerifyWindowAndReplay: a code is good for the step before and
// after now, not two away, and never twice.
func TestTOTPVerifyWindowAndReplay(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	code := totpCode(sha1.New, secret, now, 6)
	step, ok := verifyTOTP(secret, code, now.Add(totpStep), 0)
	if !ok || step != now.Unix()/30 {
		t.Fatalf("verify one step later = %d, %v", step, ok)
	}
	if _, ok := verifyTOTP(secret, code, now.Add(2*totpStep), 0); ok {
		t.Error("a code two steps old was accepted")
	}
	if _, ok := verifyTOTP(secret, code, now, step); ok {
		t.Error("a used code was accepted again")
	}
	if _, ok := verifyTOTP(secret, "12345", now, 0); ok {
		t.Error("a 5-digit code was accepted")
	}
	uri := totpURI("Parley", "maria", secret)
	if !strings.HasPrefix(uri, "otpauth://totp/Parley:maria?") || !strings.Contains(uri, "secret="+b32.EncodeToString(secret)) {
		t.Errorf("enrolment URI = %s", uri)
	}
}

// TestPasswordHashArgon2idParameters: hashes are argon2id with the OWASP
// parameters, salted (two hashes of one password differ), and verify.
func TestPasswordHashArgon2idParameters(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, h2 := hashPassword(pw, passwordParams), hashPassword(pw, passwordParams)
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q: want argon2id v=19 m=19456 t=2 p=1", h1)
	}
	p, salt, key, err := parsePasswordHash(h1)
	if err != nil || p.MemoryKiB < 19*1024 || p.Time < 2 || len(salt) < 16 || len(key) < 32 {
		t.Errorf("parsed %+v salt %d key %d err %v: weaker than OWASP's argon2id minimum", p, len(salt), len(key), err)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if strings.Contains(h1, pw) {
		t.Error("the hash holds the password")
	}
	if !checkPassword(h1, pw) || checkPassword(h1, pw+"!") || checkPassword("$argon2id$v=19$m=1,t=1,p=1$x$", pw) {
		t.Error("checkPassword accepts a wrong password or rejects the right one")
	}
	if err := checkPasswordRules("short"); err == nil {
		t.Error("a 5-character password was accepted")
	}
}

// TestRecoveryCodesOneTime: ten distinct codes, stored only as hashes, each
// good once, typed in any case and with or without the dash.
func TestRecoveryCodesOneTime(t *testing.T) {
	codes, hashes := newRecoveryCodes()
	if len(codes) != 10 || len(hashes) != 10 {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if seen[c] || len(c) != 11 || strings.Contains(hashes[i], strings.ReplaceAll(c, "-", "")) {
			t.Errorf("code %d: duplicate, malformed or in its hash", i)
		}
		seen[c] = true
	}
	left, ok := useRecovery(hashes, strings.ToUpper(strings.ReplaceAll(codes[3], "-", " ")))
	if !ok || len(left) != 9 {
		t.Fatalf("use code: ok=%v left=%d", ok, len(left))
	}
	if _, ok := useRecovery(left, codes[3]); ok {
		t.Error("a used recovery code worked again")
	}
}

// BenchmarkCheckPassword is the argon2id work of one sign-in attempt.
func BenchmarkCheckPassword(b *testing.B) {
	h := hashPassword("correct horse battery staple", passwordParams)
	for b.Loop() {
		if !checkPassword(h, "correct horse battery staple") {
			b.Fatal("no match")
		}
	}
}
