package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Session stages: a password was right and a code is due (stageCode), a
// password was right and a second factor is being enrolled (stageEnrol),
// or the person is signed in (stageFull). Only stageFull opens admin routes.
const (
	stageCode  = "code"
	stageEnrol = "enrol"
	stageFull  = "full"
)

// Cookie names. The session cookie takes the __Host- prefix whenever it is
// Secure (the browser then refuses it from a sub-domain or another path);
// the CSRF cookie is read by the console's script, so it is not HttpOnly.
const (
	cookieSessionSecure = "__Host-parley_session"
	cookieSession       = "parley_session"
	CookieCSRF          = "parley_csrf"
	HeaderCSRF          = "X-CSRF-Token"
)

// Session defaults.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
	// pendingMax bounds a half-done sign-in (password right, code due).
	pendingMax = 10 * time.Minute
	// seenEvery: the last-use time is written at most this often, so a
	// busy console does not write on every request.
	seenEvery = time.Minute
)

// staffSession is a server-side session record, stored under the SHA-256
// of the cookie value (never the value).
type staffSession struct {
	Account string    `json:"account"`
	Gen     int       `json:"gen"`
	Stage   string    `json:"stage"`
	Secret  []byte    `json:"secret,omitempty"` // TOTP secret being enrolled
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
}

// sessionState is what a request's cookie amounts to.
type sessionState int

const (
	sessionNone    sessionState = iota // no cookie
	sessionInvalid                     // a cookie that opens nothing (expired, revoked, unknown)
	sessionOK
)

func (h *handler) secureCookies(c *fiber.Ctx) bool {
	return h.forceSecure || c.Protocol() == "https"
}

func (h *handler) sessionCookieName(c *fiber.Ctx) string {
	if h.secureCookies(c) {
		return cookieSessionSecure
	}
	return cookieSession
}

// expiry is when s ends if not used again.
func (h *handler) expiry(s *staffSession) time.Time {
	if s.Stage != stageFull {
		return s.Created.Add(pendingMax)
	}
	return minTime(s.Seen.Add(h.idle), s.Created.Add(h.maxAge))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// startSession stores a new session for a and sets its cookies. The old
// session (a half-done sign-in) is deleted first: every change of stage
// gets a new id, so a planted cookie never becomes a signed-in one.
func (h *handler) startSession(c *fiber.Ctx, oldID string, a *Account, stage string, secret []byte) (*staffSession, error) {
	if oldID != "" {
		if err := h.staff.store.StaffDelete(kindSession, oldID); err != nil {
			return nil, err
		}
	}
	now := h.now()
	s := &staffSession{Account: a.Name, Gen: a.Gen, Stage: stage, Secret: secret, CSRF: randomToken(), Created: now, Seen: now}
	cookie := randomToken()
	if err := h.putSession(sha256Hex(cookie), s); err != nil {
		return nil, err
	}
	sec := h.secureCookies(c)
	c.Cookie(&fiber.Cookie{Name: h.sessionCookieName(c), Value: cookie, Path: "/", Secure: sec, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, SessionOnly: true})
	c.Cookie(&fiber.Cookie{Name: CookieCSRF, Value: s.CSRF, Path: "/", Secure: sec,
		SameSite: fiber.CookieSameSiteStrictMode, SessionOnly: true})
	return s, nil
}

func (h *handler) putSession(id string, s *staffSession) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return h.staff.store.StaffPut(kindSession, id, b, h.expiry(s), h.now())
}

// clearCookies tells the browser to forget the session.
func (h *handler) clearCookies(c *fiber.Ctx) {
	sec := h.secureCookies(c)
	for _, name := range []string{h.sessionCookieName(c), CookieCSRF} {
		c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", Secure: sec, HTTPOnly: name != CookieCSRF,
			SameSite: fiber.CookieSameSiteStrictMode, MaxAge: -1, Expires: time.Unix(0, 0)})
	}
}

// session loads the request's session and its account. A session whose
// account is gone, disabled or changed since (Gen), or that passed its
// idle or absolute timeout, is deleted and reads as invalid: revocation
// takes effect on the next request.
func (h *handler) session(c *fiber.Ctx) (sessionState, string, *staffSession, *Account, error) {
	cookie := c.Cookies(cookieSessionSecure)
	if cookie == "" {
		cookie = c.Cookies(cookieSession)
	}
	if cookie == "" {
		return sessionNone, "", nil, nil, nil
	}
	if len(cookie) > 128 {
		return sessionInvalid, "", nil, nil, nil
	}
	id := sha256Hex(cookie)
	now := h.now()
	b, ok, err := h.staff.store.StaffGet(kindSession, id, now)
	if err != nil {
		return sessionInvalid, "", nil, nil, err
	}
	if !ok {
		return sessionInvalid, "", nil, nil, nil
	}
	var s staffSession
	if err := json.Unmarshal(b, &s); err != nil {
		return sessionInvalid, "", nil, nil, fmt.Errorf("staff session: %w", err)
	}
	a, err := h.staff.get(s.Account)
	if err != nil && !errors.Is(err, ErrNoAccount) {
		return sessionInvalid, "", nil, nil, err
	}
	if err != nil || a.Disabled || a.Gen != s.Gen || !now.Before(h.expiry(&s)) {
		return sessionInvalid, "", nil, nil, h.staff.store.StaffDelete(kindSession, id)
	}
	if s.Stage == stageFull && now.Sub(s.Seen) >= seenEvery {
		s.Seen = now
		if err := h.putSession(id, &s); err != nil {
			return sessionInvalid, "", nil, nil, err
		}
	}
	return sessionOK, id, &s, a, nil
}

// csrfOK checks the double submit: the token sent (header, or form field
// for the sign-in pages) equals the parley_csrf cookie and the session's.
func csrfOK(c *fiber.Ctx, s *staffSession) bool {
	sent := c.Get(HeaderCSRF)
	if sent == "" {
		sent = c.FormValue("csrf")
	}
	cookie := c.Cookies(CookieCSRF)
	return sent != "" &&
		subtle.ConstantTimeCompare([]byte(sent), []byte(cookie)) == 1 &&
		subtle.ConstantTimeCompare([]byte(sent), []byte(s.CSRF)) == 1
}

// stateChanging: every method but GET, HEAD and OPTIONS needs the CSRF token.
func stateChanging(method string) bool {
	switch strings.ToUpper(method) {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return true
}
