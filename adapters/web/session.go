package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// SessionCookie is the cookie that identifies a web chat visitor. Its value
// is "<id>.<mac>": a random id the server chose and an HMAC-SHA256 of it
// under the session key. The visitor's conversation is the id's: a client
// can neither choose an id nor forge one, so it can only ever reach its own
// conversation (and its own MY DATA).
const SessionCookie = "parley_session"

const (
	sessionIDBytes = 16
	sessionLabel   = "parley/web-session/v1\x00"
)

// sessions signs and checks session cookies.
type sessions struct{ key []byte }

func newSessions(key []byte) sessions {
	if len(key) == 0 {
		// A per-process key: every restart ends every session.
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	}
	return sessions{key: append([]byte(nil), key...)}
}

func (s sessions) mac(id string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(sessionLabel))
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the id of a well-formed, authentic cookie value, or "".
func (s sessions) verify(v string) string {
	id, mac, ok := strings.Cut(v, ".")
	if !ok || len(id) != 2*sessionIDBytes {
		return ""
	}
	if _, err := hex.DecodeString(id); err != nil {
		return ""
	}
	if !hmac.Equal([]byte(mac), []byte(s.mac(id))) {
		return ""
	}
	return id
}

// issue makes a new visitor id and sets its signed cookie on the response.
func (s sessions) issue(c *fiber.Ctx) string {
	var b [sessionIDBytes]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.Cookie(&fiber.Cookie{
		Name:     SessionCookie,
		Value:    id + "." + s.mac(id),
		Path:     "/",
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode,
		// Secure when served over TLS; the local chat on loopback is plain
		// HTTP, where a Secure cookie would never be sent back.
		Secure:      c.Protocol() == "https",
		SessionOnly: true,
	})
	return id
}

// visitor returns the id of the request's session, issuing a new session
// when the request has none or its cookie does not verify.
func (s sessions) visitor(c *fiber.Ctx) string {
	if id := s.verify(c.Cookies(SessionCookie)); id != "" {
		return id
	}
	return s.issue(c)
}
