package admin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"
)

// Sign-in pages (with Config.Staff). The console (GET /console) sends a
// browser here on a 401; after signing in it goes back to ConsolePath.
const (
	LoginPath   = "/console/login"
	CodePath    = "/console/login/code"
	LogoutPath  = "/console/logout"
	ConsolePath = "/console"
)

func (h *handler) registerLogin(r fiber.Router) {
	r.Get(LoginPath, h.loginPage)
	r.Post(LoginPath, h.sameOrigin(h.loginPassword))
	r.Post(CodePath, h.sameOrigin(h.loginCode))
	r.Post(LogoutPath, h.sameOrigin(h.logout))
}

// sameOrigin refuses a sign-in form posted from another site (login CSRF:
// a page elsewhere signing the browser in as someone else, or out). The
// browser says where a request comes from in Sec-Fetch-Site; a request
// without it (an old browser, a script) is let through, since the session
// and the CSRF token still guard everything that matters.
func (h *handler) sameOrigin(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
			return next(c)
		}
		h.audit(c, ActorUnknown, ActionCSRF, OutcomeRefusedCSRF, "")
		return h.render(c, fiber.StatusForbidden, page{Form: "password", Error: "err_other_site"})
	}
}

// page is what the sign-in template shows. Title and Error are keys of
// loginText; render puts the words in T.
type page struct {
	Title   string
	Error   string
	Minutes int // for err_throttled
	Lang    string
	T       map[string]string
	Intro   string // the code or enrolment step's first line
	Form    string // "password", "code", "enrol", "recovery", "signed-in"
	CSRF    string
	Name    string
	Role    string
	QR      template.URL // data: URI of the enrolment QR code
	Secret  string       // the TOTP secret as text, for typing by hand
	Codes   []string     // recovery codes, shown once
	Console string
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Parley</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input{font:inherit;width:100%;padding:.4rem;box-sizing:border-box}
button{font:inherit;margin-top:1rem;padding:.5rem 1rem}.error{color:#a00000;border-left:4px solid #a00000;padding-left:.6rem}
code,.secret{font-family:ui-monospace,monospace;font-size:1.1rem;letter-spacing:.05em}ol{columns:2}img{image-rendering:pixelated}
</style></head><body><main>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
{{if eq .Form "password"}}
<form method="post" action="/console/login">
<label for="name">{{.T.name}}</label><input id="name" name="name" autocomplete="username" autofocus required>
<label for="password">{{.T.password}}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="signin">{{.T.signin}}</button>
</form>
{{else if eq .Form "code"}}
<p>{{.Intro}}</p>
<form method="post" action="/console/login/code">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="code">{{.T.code}}</label><input id="code" name="code" autocomplete="one-time-code" inputmode="text" autofocus required>
<button type="submit" id="verify">{{.T.verify}}</button>
</form>
{{else if eq .Form "enrol"}}
<p>{{.Intro}}</p>
<img id="qr" src="{{.QR}}" width="256" height="256" alt="{{.T.qr_alt}}">
<p>{{.T.by_hand}}</p>
<p class="secret" id="secret">{{.Secret}}</p>
<form method="post" action="/console/login/code">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="code">{{.T.enrol_code}}</label><input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required>
<button type="submit" id="verify">{{.T.enrol_button}}</button>
</form>
{{else if eq .Form "recovery"}}
<p>{{.T.recovery_intro}} <strong>{{.T.shown_once}}</strong>.</p>
<ol id="codes">{{range .Codes}}<li><code>{{.}}</code></li>{{end}}</ol>
{{end}}
{{if or (eq .Form "recovery") (eq .Form "signed-in")}}
<p id="signed-in">{{.T.signed_in_as}} <strong>{{.Name}}</strong> ({{.Role}}).</p>
<p><a href="{{.Console}}" id="console">{{.T.continue}}</a></p>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit" id="signout">{{.T.signout}}</button></form>
{{end}}
</main></body></html>
`))

// render answers a sign-in page with headers that keep it private: no
// cache, no framing, no external request (the QR code is an inline image).
func (h *handler) render(c *fiber.Ctx, status int, p page) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; img-src data:; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if p.Title == "" {
		p.Title = "t_signin"
	}
	p.Lang = loginLang(c.Get(fiber.HeaderAcceptLanguage))
	p.T = loginText[p.Lang]
	p.Title = text(p.Lang, p.Title)
	if p.Error == "err_throttled" {
		p.Error = text(p.Lang, p.Error, p.Minutes)
	} else if p.Error != "" {
		p.Error = text(p.Lang, p.Error)
	}
	switch p.Form {
	case "code":
		p.Intro = text(p.Lang, "code_intro", p.Name)
	case "enrol":
		p.Intro = text(p.Lang, "enrol_intro", p.Role)
	}
	p.Console = ConsolePath
	var b bytes.Buffer
	if err := loginTmpl.Execute(&b, p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(b.Bytes())
}

// loginPage shows the step the browser is at: the password form, the code
// or enrolment form of a half-done sign-in, or who is signed in.
func (h *handler) loginPage(c *fiber.Ctx) error {
	state, _, s, a, err := h.session(c)
	if err != nil {
		return h.loginError(c, err)
	}
	if state != sessionOK {
		if state == sessionInvalid {
			h.clearCookies(c)
		}
		return h.render(c, fiber.StatusOK, page{Form: "password"})
	}
	return h.stagePage(c, fiber.StatusOK, s, a, "")
}

func (h *handler) stagePage(c *fiber.Ctx, status int, s *staffSession, a *Account, msg string) error {
	p := page{Error: msg, CSRF: s.CSRF, Name: a.Name, Role: a.Role}
	switch s.Stage {
	case stageFull:
		p.Form, p.Title = "signed-in", "t_signedin"
	case stageCode:
		p.Form, p.Title = "code", "t_code"
	case stageEnrol:
		png, err := qrcode.Encode(totpURI(h.issuer, a.Name, s.Secret), qrcode.Medium, 256)
		if err != nil {
			return h.loginError(c, err)
		}
		p.Form, p.Title = "enrol", "t_enrol"
		p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		p.Secret = groupSecret(s.Secret)
	}
	return h.render(c, status, p)
}

// loginError answers 503 for a storage failure, logged without personal data.
func (h *handler) loginError(c *fiber.Ctx, err error) error {
	h.log.ErrorContext(c.UserContext(), "staff sign-in failed", "adapter", "admin", "err", err)
	return h.render(c, fiber.StatusServiceUnavailable, page{Form: "password", Error: "err_unavailable"})
}

// throttled answers 429 while the address or the account is locked out.
func (h *handler) throttled(c *fiber.Ctx, ip, name string) (bool, error) {
	left, blocked := h.limiter.blocked(ip)
	if name != "" {
		if l2, b2 := h.accounts.blocked(name); b2 {
			left, blocked = max(left, l2), true
		}
	}
	if !blocked {
		return false, nil
	}
	h.count("rate_limited")
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(left.Seconds()))))
	return true, h.render(c, fiber.StatusTooManyRequests, page{Form: "password",
		Error: "err_throttled", Minutes: int(math.Ceil(left.Minutes()))})
}

// failed counts a wrong password or code against the address and the
// account, auditing a lockout when one starts.
func (h *handler) failed(c *fiber.Ctx, ip, name string) {
	if h.limiter.fail(ip) {
		h.count(OutcomeLockout)
		h.audit(c, ActorUnknown, ActionAuth, OutcomeLockout, "")
	}
	if name != "" && h.accounts.fail(name) {
		h.count(OutcomeLockout)
		h.audit(c, ActorUnknown, ActionAuth, OutcomeLockout, "account")
	}
}

func (h *handler) loginPassword(c *fiber.Ctx) error {
	ip := strings.Clone(c.IP())
	name := strings.ToLower(strings.TrimSpace(c.FormValue("name")))
	password := c.FormValue("password")
	if stop, err := h.throttled(c, ip, strings.Clone(name)); stop {
		return err
	}
	// A missing credential is not a failed one: it is not counted.
	if name == "" || password == "" {
		return h.render(c, fiber.StatusBadRequest, page{Form: "password", Error: "err_missing"})
	}
	name = strings.Clone(name)
	var a *Account
	var err error
	if CheckName(name) == nil {
		a, err = h.staff.get(name)
	}
	if err != nil && !errors.Is(err, ErrNoAccount) {
		return h.loginError(c, err)
	}
	// At most one argon2id hash per CPU at a time: each takes 19 MiB and
	// about 0.1 s, so a flood of sign-ins from many addresses queues here
	// instead of exhausting memory.
	h.hashSlots <- struct{}{}
	defer func() { <-h.hashSlots }()
	if a == nil {
		checkPassword(dummyHash, password) // same time as a real account
		h.failed(c, ip, name)
		h.audit(c, ActorUnknown, ActionSignIn, OutcomeFailed, "")
		h.logRequest(c, ActionSignIn, ActorUnknown, OutcomeFailed, fiber.StatusUnauthorized)
		return h.render(c, fiber.StatusUnauthorized, page{Form: "password", Error: "err_mismatch"})
	}
	actor := a.principal().Actor()
	if !checkPassword(a.Password, password) {
		h.failed(c, ip, name)
		h.audit(c, actor, ActionSignIn, OutcomeFailed, staffRef(a))
		h.logRequest(c, ActionSignIn, actor, OutcomeFailed, fiber.StatusUnauthorized)
		return h.render(c, fiber.StatusUnauthorized, page{Form: "password", Error: "err_mismatch"})
	}
	if a.Disabled {
		h.audit(c, actor, ActionSignIn, "disabled", staffRef(a))
		h.logRequest(c, ActionSignIn, actor, "disabled", fiber.StatusForbidden)
		return h.render(c, fiber.StatusForbidden, page{Form: "password", Error: "err_disabled"})
	}
	old := ""
	if state, id, _, _, _ := h.session(c); state == sessionOK {
		old = id
	}
	stage, secret := stageFull, []byte(nil)
	switch {
	case a.needsSecondFactor() && a.TOTP != nil:
		stage = stageCode
	case a.needsSecondFactor():
		stage, secret = stageEnrol, newTOTPSecret()
	}
	s, err := h.startSession(c, old, a, stage, secret)
	if err != nil {
		return h.loginError(c, err)
	}
	if stage == stageFull {
		h.audit(c, actor, ActionSignIn, OutcomeOK, staffRef(a))
		h.logRequest(c, ActionSignIn, actor, OutcomeOK, fiber.StatusSeeOther)
		return c.Redirect(ConsolePath, fiber.StatusSeeOther)
	}
	return h.stagePage(c, fiber.StatusOK, s, a, "")
}

// isTOTPCode: six digits (spaces allowed) is an app code; anything else is
// tried as a recovery code.
func isTOTPCode(s string) bool {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	return len(s) == totpDigits && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) }) < 0
}

func (h *handler) loginCode(c *fiber.Ctx) error {
	ip := strings.Clone(c.IP())
	state, id, s, a, err := h.session(c)
	if err != nil {
		return h.loginError(c, err)
	}
	if state != sessionOK || s.Stage == stageFull {
		h.clearCookies(c)
		return h.render(c, fiber.StatusUnauthorized, page{Form: "password", Error: "err_timed_out"})
	}
	if !csrfOK(c, s) {
		h.audit(c, a.principal().Actor(), ActionCSRF, OutcomeRefusedCSRF, staffRef(a))
		return h.stagePage(c, fiber.StatusForbidden, s, a, "err_expired")
	}
	if stop, err := h.throttled(c, ip, a.Name); stop {
		return err
	}
	code := c.FormValue("code")
	if strings.TrimSpace(code) == "" {
		return h.stagePage(c, fiber.StatusBadRequest, s, a, "err_no_code")
	}
	actor := a.principal().Actor()
	action, outcome := ActionSignIn, OutcomeOK
	var codes []string
	switch {
	case s.Stage == stageEnrol:
		step, ok := verifyTOTP(s.Secret, code, h.now(), 0)
		if !ok {
			h.failed(c, ip, a.Name)
			h.audit(c, actor, ActionEnrol, OutcomeFailed, staffRef(a))
			return h.stagePage(c, fiber.StatusUnauthorized, s, a, "err_enrol_code")
		}
		var hashes []string
		codes, hashes = newRecoveryCodes()
		a.TOTP, a.LastStep, a.Recovery = s.Secret, step, hashes
		action = ActionEnrol
	case isTOTPCode(code):
		step, ok := verifyTOTP(a.TOTP, code, h.now(), a.LastStep)
		if !ok {
			h.failed(c, ip, a.Name)
			h.audit(c, actor, ActionSecondStep, OutcomeFailed, staffRef(a))
			return h.stagePage(c, fiber.StatusUnauthorized, s, a, "err_code")
		}
		a.LastStep = step
	default:
		left, ok := useRecovery(a.Recovery, code)
		if !ok {
			h.failed(c, ip, a.Name)
			h.audit(c, actor, ActionSecondStep, OutcomeFailed, staffRef(a))
			return h.stagePage(c, fiber.StatusUnauthorized, s, a, "err_recovery")
		}
		a.Recovery = left
		outcome = "recovery"
	}
	// The account is written first (the code or recovery code is spent)
	// and the sign-in audited before the session opens.
	if err := h.staff.put(a); err != nil {
		return h.loginError(c, err)
	}
	if !h.audit(c, actor, action, outcome, staffRef(a)) {
		return h.render(c, fiber.StatusServiceUnavailable, page{Form: "password", Error: "err_audit"})
	}
	if action == ActionEnrol {
		h.audit(c, actor, ActionSignIn, OutcomeOK, staffRef(a))
	}
	h.logRequest(c, action, actor, outcome, fiber.StatusOK)
	full, err := h.startSession(c, id, a, stageFull, nil)
	if err != nil {
		return h.loginError(c, err)
	}
	if codes != nil {
		return h.render(c, fiber.StatusOK, page{Title: "t_recovery", Form: "recovery", Codes: codes, CSRF: full.CSRF, Name: a.Name, Role: a.Role})
	}
	return c.Redirect(ConsolePath, fiber.StatusSeeOther)
}

// logout ends the session at once (server side) and clears the cookies.
func (h *handler) logout(c *fiber.Ctx) error {
	state, id, s, a, err := h.session(c)
	if err != nil {
		return h.loginError(c, err)
	}
	if state == sessionOK {
		if !csrfOK(c, s) {
			h.audit(c, a.principal().Actor(), ActionCSRF, OutcomeRefusedCSRF, staffRef(a))
			return h.stagePage(c, fiber.StatusForbidden, s, a, "err_expired")
		}
		if err := h.staff.store.StaffDelete(kindSession, id); err != nil {
			return h.loginError(c, err)
		}
		h.audit(c, a.principal().Actor(), ActionSignOut, OutcomeOK, staffRef(a))
	}
	h.clearCookies(c)
	return c.Redirect(LoginPath, fiber.StatusSeeOther)
}
