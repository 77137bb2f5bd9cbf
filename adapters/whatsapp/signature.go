package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
)

// SignatureHeader is the header that carries Meta's webhook signature.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 value for body under appSecret:
// "sha256=" followed by the lowercase hex HMAC-SHA256. Tests and load tools
// use it to produce webhooks the server accepts.
func Sign(appSecret, body []byte) string {
	m := hmac.New(sha256.New, appSecret)
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is a valid X-Hub-Signature-256 for
// the raw request body under appSecret. It rejects an empty secret, a missing
// or empty header, a header without the "sha256=" prefix, and a digest that
// is not exactly 64 hex digits; the MAC itself is compared in constant time
// with hmac.Equal. body must be the bytes as received, never a re-encoding.
func VerifySignature(appSecret, body []byte, header string) bool {
	if len(appSecret) == 0 {
		return false
	}
	got, ok := parseSignature(header)
	if !ok {
		return false
	}
	m := hmac.New(sha256.New, appSecret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// VerifySignatureAny is VerifySignature for a secret rotation: it accepts the
// header if it is valid under any of appSecrets. Every secret is tried, so
// the time taken does not reveal which one matched.
func VerifySignatureAny(appSecrets [][]byte, body []byte, header string) bool {
	got, ok := parseSignature(header)
	if !ok {
		return false
	}
	match := 0
	for _, s := range appSecrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write(body)
		if hmac.Equal(got, m.Sum(nil)) {
			match = 1
		}
	}
	return match == 1
}

// parseSignature decodes "sha256=<64 hex>" into its 32-byte digest. Upper
// case hex is accepted, as hex.DecodeString does; anything else fails.
func parseSignature(header string) ([]byte, bool) {
	if len(header) != len(signaturePrefix)+2*sha256.Size || header[:len(signaturePrefix)] != signaturePrefix {
		return nil, false
	}
	got, err := hex.DecodeString(header[len(signaturePrefix):])
	if err != nil || len(got) != sha256.Size {
		return nil, false
	}
	return got, true
}

// VerifyHandshake answers Meta's GET subscription handshake. query holds the
// request's query parameters, whose keys contain literal dots ("hub.mode",
// "hub.verify_token", "hub.challenge"). It returns the challenge to echo
// verbatim as text/plain with status 200, and ok=false (answer 403) unless
// the mode is "subscribe", the challenge is present and the token equals
// verifyToken. The token is compared in constant time; an empty configured
// token never matches.
func VerifyHandshake(query url.Values, verifyToken string) (challenge string, ok bool) {
	if verifyToken == "" || query.Get("hub.mode") != "subscribe" {
		return "", false
	}
	challenge = query.Get("hub.challenge")
	if challenge == "" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(query.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		return "", false
	}
	return challenge, true
}

// MaxChallengeDigits bounds the handshake challenge ValidChallenge accepts.
const MaxChallengeDigits = 64

// ValidChallenge reports whether a handshake challenge has the only form
// Meta sends: 1 to MaxChallengeDigits ASCII digits. Anything else is never
// echoed (the server answers 400), so the endpoint cannot be made to reflect
// arbitrary text.
func ValidChallenge(challenge string) bool {
	if len(challenge) == 0 || len(challenge) > MaxChallengeDigits {
		return false
	}
	for i := 0; i < len(challenge); i++ {
		if challenge[i] < '0' || challenge[i] > '9' {
			return false
		}
	}
	return true
}
