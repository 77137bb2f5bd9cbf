package admin

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// memStaff is an in-memory StaffStore with expiry by the caller's clock.
type memStaff struct {
	mu   sync.Mutex
	recs map[string]memRec
}

type memRec struct {
	blob    []byte
	expires time.Time
}

func (m *memStaff) StaffGet(kind, id string, now time.Time) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[kind+"/"+id]
	if !ok || (!r.expires.IsZero() && !now.Before(r.expires)) {
		return nil, false, nil
	}
	return slices.Clone(r.blob), true, nil
}

func (m *memStaff) StaffPut(kind, id string, blob []byte, expires, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]memRec{}
	}
	m.recs[kind+"/"+id] = memRec{slices.Clone(blob), expires}
	return nil
}

func (m *memStaff) StaffDelete(kind, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, kind+"/"+id)
	return nil
}

func (m *memStaff) StaffList(kind string, now time.Time) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for k, r := range m.recs {
		if strings.HasPrefix(k, kind+"/") && (r.expires.IsZero() || now.Before(r.expires)) {
			out = append(out, slices.Clone(r.blob))
		}
	}
	return out, nil
}

const staffPassword = "correct horse battery staple"

type staffEnv struct {
	*env
	store    *memStaff
	staff    *Staff
	handoffs *fakeHandoffs
}

// newStaffEnv serves the admin API with staff accounts (and no legacy
// tokens) on a fake clock.
func newStaffEnv(t *testing.T) *staffEnv {
	t.Helper()
	e := &env{
		backend: &fakeBackend{reload: ReloadResult{OK: true}, verified: 42},
		clock:   &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)},
		logs:    &bytes.Buffer{},
	}
	se := &staffEnv{env: e, store: &memStaff{}, handoffs: &fakeHandoffs{}}
	se.staff = NewStaff(se.store, e.clock.Now, e.backend.Audit)
	e.app = fiber.New(fiber.Config{DisableStartupMessage: true, ProxyHeader: fiber.HeaderXForwardedFor})
	Register(e.app, Config{
		Backend: e.backend, Staff: se.staff, Now: e.clock.Now, Handoffs: se.handoffs,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SubjectRef: func(channel, user string) string { return "subj-" + channel + "-" + pseudo(user) },
	})
	return se
}

func (se *staffEnv) add(t *testing.T, name, role string) {
	t.Helper()
	if err := se.staff.Add(context.Background(), ActorCLI, name, role, staffPassword); err != nil {
		t.Fatalf("add %s: %v", name, err)
	}
}

// browser keeps cookies like a browser on one origin.
type browser struct {
	se   *staffEnv
	jar  map[string]*http.Cookie
	ip   string
	last *http.Response
}

func (se *staffEnv) browser(ip string) *browser {
	return &browser{se: se, jar: map[string]*http.Cookie{}, ip: ip}
}

// send makes a request with the jar's cookies; form posts a form; hdr adds
// headers.
func (b *browser) send(t *testing.T, method, path string, form url.Values, hdr map[string]string, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if form != nil {
		r = strings.NewReader(form.Encode())
	} else if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.ip != "" {
		req.Header.Set("X-Forwarded-For", b.ip)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range b.jar {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := b.se.app.Test(req, -1)
	if err != nil {
		t.Fatalf("app.Test: %v", err)
	}
	out, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c
		}
	}
	b.last = res
	return res.StatusCode, string(out)
}

func (b *browser) csrf() string {
	if c := b.jar[CookieCSRF]; c != nil {
		return c.Value
	}
	return ""
}

// api calls an admin route with the session cookie and, for state changes,
// the CSRF header as the console does.
func (b *browser) api(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	hdr := map[string]string{}
	if stateChanging(method) {
		hdr[HeaderCSRF] = b.csrf()
	}
	return b.send(t, method, path, nil, hdr, body)
}

var (
	secretRe = regexp.MustCompile(`id="secret">([A-Z2-7 ]+)<`)
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	codeRe   = regexp.MustCompile(`<code>([a-z2-9]{5}-[a-z2-9]{5})</code>`)
)

func match(t *testing.T, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page lacks %s:\n%s", re, page)
	}
	return m[1]
}

// enrol signs name in for the first time: password, then the TOTP secret
// read as text from the enrolment page, then a code computed here. It
// returns the secret and the recovery codes shown.
func (b *browser) enrol(t *testing.T, name string) (string, []string) {
	t.Helper()
	st, page := b.send(t, "POST", LoginPath, url.Values{"name": {name}, "password": {staffPassword}}, nil, "")
	if st != 200 || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatalf("password step: %d, want the enrolment page with an inline QR code:\n%s", st, page)
	}
	secret := strings.ReplaceAll(match(t, secretRe, page), " ", "")
	code, ok := TOTPCode(secret, b.se.clock.Now())
	if !ok {
		t.Fatalf("secret %q does not decode", secret)
	}
	st, page = b.send(t, "POST", CodePath, url.Values{"code": {code}, "csrf": {match(t, csrfRe, page)}}, nil, "")
	if st != 200 || !strings.Contains(page, "shown only now") {
		t.Fatalf("enrolment code: %d, want the recovery codes:\n%s", st, page)
	}
	var codes []string
	for _, m := range codeRe.FindAllStringSubmatch(page, -1) {
		codes = append(codes, m[1])
	}
	return secret, codes
}

// signIn signs name in fully; operators, DPOs and admins enrol.
func (se *staffEnv) signIn(t *testing.T, name, ip string) *browser {
	t.Helper()
	b := se.browser(ip)
	a, err := se.staff.get(name)
	if err != nil {
		t.Fatal(err)
	}
	if a.needsSecondFactor() {
		b.enrol(t, name)
		return b
	}
	if st, page := b.send(t, "POST", LoginPath, url.Values{"name": {name}, "password": {staffPassword}}, nil, ""); st != fiber.StatusSeeOther {
		t.Fatalf("viewer sign-in: %d\n%s", st, page)
	}
	return b
}

func (se *staffEnv) audited(action string) int {
	n := 0
	for _, a := range se.backend.auditActions() {
		if a == action {
			n++
		}
	}
	return n
}

// TestStaffSignInEnrolsTOTPThenRequiresIt: the first sign-in of an
// operator enrols a second factor (QR code and the secret as text), shows
// recovery codes once and opens a session whose cookies are HttpOnly and
// SameSite=Strict; the next sign-in asks for a code, refuses a replayed
// one, and a recovery code works once.
func TestStaffSignInEnrolsTOTPThenRequiresIt(t *testing.T) {
	se := newStaffEnv(t)
	se.add(t, "maria", "operator")
	b := se.browser("192.0.2.10")
	if st, page := b.send(t, "GET", LoginPath, nil, nil, ""); st != 200 || !strings.Contains(page, `name="password"`) {
		t.Fatalf("GET login: %d\n%s", st, page)
	}
	if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 401 {
		t.Fatalf("before sign-in: %d, want 401", st)
	}
	secret, codes := b.enrol(t, "maria")
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	sess := b.jar[cookieSession]
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", sess)
	}
	if c := b.jar[CookieCSRF]; c == nil || c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("csrf cookie = %+v, want readable by script and SameSite=Strict", c)
	}
	if st, body := b.api(t, "GET", "/admin/v1/flows", ""); st != 200 {
		t.Fatalf("signed in: GET flows = %d %s", st, body)
	}
	if st, body := b.api(t, "POST", "/admin/v1/subjects/export", `{"channel":"whatsapp","user":"`+canaryUser+`"}`); st != 200 {
		t.Fatalf("signed in operator: export = %d %s", st, body)
	}
	if se.audited("staff.enrol:ok") != 1 || se.audited("staff.signin:ok") != 1 {
		t.Errorf("audit = %v, want one enrolment and one sign-in", se.backend.auditActions())
	}
	a, _ := se.staff.get("maria")
	for _, c := range codes {
		if slices.Contains(a.Recovery, c) || strings.Contains(string(a.TOTP), c) {
			t.Error("a recovery code is stored in the clear")
		}
	}

	// Second sign-in: a code is due; the code already used is refused.
	used, _ := TOTPCode(secret, se.clock.Now())
	b2 := se.browser("192.0.2.11")
	st, page := b2.send(t, "POST", LoginPath, url.Values{"name": {"maria"}, "password": {staffPassword}}, nil, "")
	if st != 200 || !strings.Contains(page, `name="code"`) || strings.Contains(page, "data:image/png") {
		t.Fatalf("second sign-in: %d, want the code form without a QR code\n%s", st, page)
	}
	if st, _ := b2.api(t, "GET", "/admin/v1/flows", ""); st != 401 {
		t.Fatalf("password alone opened the API: %d", st)
	}
	st, page = b2.send(t, "POST", CodePath, url.Values{"code": {used}, "csrf": {match(t, csrfRe, page)}}, nil, "")
	if st != 401 || !strings.Contains(page, "used already") {
		t.Fatalf("replayed code: %d, want 401 saying it was used\n%s", st, page)
	}
	se.clock.Advance(totpStep)
	fresh, _ := TOTPCode(secret, se.clock.Now())
	if st, _ = b2.send(t, "POST", CodePath, url.Values{"code": {fresh}, "csrf": {match(t, csrfRe, page)}}, nil, ""); st != fiber.StatusSeeOther {
		t.Fatalf("fresh code: %d, want 303", st)
	}
	if loc := b2.last.Header.Get("Location"); loc != ConsolePath {
		t.Errorf("after sign-in Location = %q, want %s", loc, ConsolePath)
	}
	if st, _ := b2.api(t, "GET", "/admin/v1/flows", ""); st != 200 {
		t.Fatalf("after the code: %d", st)
	}

	// A recovery code works once.
	for i, want := range []int{fiber.StatusSeeOther, 401} {
		b3 := se.browser("192.0.2.12")
		_, page := b3.send(t, "POST", LoginPath, url.Values{"name": {"maria"}, "password": {staffPassword}}, nil, "")
		if st, _ := b3.send(t, "POST", CodePath, url.Values{"code": {strings.ToUpper(codes[2])}, "csrf": {match(t, csrfRe, page)}}, nil, ""); st != want {
			t.Fatalf("recovery code use %d: %d, want %d", i+1, st, want)
		}
	}
	if se.audited("staff.signin:recovery") != 1 {
		t.Errorf("recovery sign-ins audited %d times, want 1", se.audited("staff.signin:recovery"))
	}
}

// TestStaffSecureCookiesOverHTTPS: over HTTPS (here: a proxy's
// X-Forwarded-Proto) the session cookie is Secure with the __Host- prefix.
func TestStaffSecureCookiesOverHTTPS(t *testing.T) {
	se := newStaffEnv(t)
	se.add(t, "vera", "viewer")
	b := se.browser("192.0.2.20")
	hdr := map[string]string{"X-Forwarded-Proto": "https"}
	if st, _ := b.send(t, "POST", LoginPath, url.Values{"name": {"vera"}, "password": {staffPassword}}, hdr, ""); st != fiber.StatusSeeOther {
		t.Fatalf("sign-in: %d", st)
	}
	c := b.jar[cookieSessionSecure]
	if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookies %v: want a Secure, HttpOnly __Host- session cookie on / without Domain", b.jar)
	}
	if b.jar[cookieSession] != nil || !b.jar[CookieCSRF].Secure {
		t.Errorf("cookies %v: want no plain session cookie and a Secure CSRF cookie", b.jar)
	}
	if st, _ := b.send(t, "GET", "/admin/v1/flows", nil, hdr, ""); st != 200 {
		t.Errorf("with the __Host- cookie: %d", st)
	}
}

// TestStaffSessionIdleAndAbsoluteTimeouts with the injected clock.
func TestStaffSessionIdleAndAbsoluteTimeouts(t *testing.T) {
	se := newStaffEnv(t)
	se.add(t, "vera", "viewer")
	b := se.signIn(t, "vera", "192.0.2.30")
	se.clock.Advance(DefaultSessionIdle - time.Second)
	if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 200 {
		t.Fatalf("used before the idle timeout: %d", st)
	}
	se.clock.Advance(DefaultSessionIdle - time.Second) // idle measured from the last use
	if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 200 {
		t.Fatalf("used again within the idle timeout: %d", st)
	}
	se.clock.Advance(DefaultSessionIdle)
	if st, body := b.api(t, "GET", "/admin/v1/flows", ""); st != 401 || !strings.Contains(body, LoginPath) {
		t.Fatalf("after the idle timeout: %d %s, want 401 naming the sign-in page", st, body)
	}

	b = se.signIn(t, "vera", "192.0.2.30")
	start := se.clock.Now()
	for se.clock.Now().Sub(start) < DefaultSessionMax-20*time.Minute {
		se.clock.Advance(20 * time.Minute)
		if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 200 {
			t.Fatalf("busy session %v after sign-in: %d", se.clock.Now().Sub(start), st)
		}
	}
	se.clock.Advance(DefaultSessionMax - se.clock.Now().Sub(start))
	if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 401 {
		t.Fatalf("a busy session at the absolute timeout: %d, want 401", st)
	}
	if live, _ := se.store.StaffList(kindSession, se.clock.Now()); len(live) != 0 {
		t.Errorf("%d live session records left after both expired", len(live))
	}
}

// TestStaffRevocationTakesEffectAtOnce: disable, role change, reset,
// remove and sign-out each end a live session on its next request.
func TestStaffRevocationTakesEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		revoke func(se *staffEnv) error
	}{
		{"disable", func(se *staffEnv) error { return se.staff.SetDisabled(ctx, ActorCLI, "omar", true) }},
		{"role change", func(se *staffEnv) error { return se.staff.SetRole(ctx, ActorCLI, "omar", "viewer") }},
		{"reset", func(se *staffEnv) error { return se.staff.Reset(ctx, ActorCLI, "omar", "another long passphrase") }},
		{"remove", func(se *staffEnv) error { return se.staff.Remove(ctx, ActorCLI, "omar") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se := newStaffEnv(t)
			se.add(t, "omar", "operator")
			b := se.signIn(t, "omar", "192.0.2.40")
			if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 200 {
				t.Fatalf("signed in: %d", st)
			}
			if err := tc.revoke(se); err != nil {
				t.Fatal(err)
			}
			if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 401 {
				t.Fatalf("after %s: %d, want 401", tc.name, st)
			}
			if tc.name == "disable" {
				se.staff.SetDisabled(ctx, ActorCLI, "omar", false)
				if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 401 {
					t.Errorf("enabling again revived the old session: %d", st)
				}
			}
		})
	}
	t.Run("admin API while serving", func(t *testing.T) {
		se := newStaffEnv(t)
		se.add(t, "omar", "operator")
		se.add(t, "ada", "admin")
		b := se.signIn(t, "omar", "192.0.2.42")
		tok, info, err := se.staff.AddToken(ctx, ActorCLI, "omar script", "omar", "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ad := se.signIn(t, "ada", "192.0.2.43")
		if st, body := ad.api(t, "GET", "/admin/v1/staff", ""); st != 200 || !strings.Contains(body, `"name":"omar"`) || strings.Contains(body, "argon2") {
			t.Fatalf("GET staff: %d %s", st, body)
		}
		if st, body := ad.api(t, "POST", "/admin/v1/staff/disable", `{"name":"nobody"}`); st != 404 {
			t.Fatalf("disable an unknown account: %d %s", st, body)
		}
		if st, body := ad.api(t, "POST", "/admin/v1/staff/tokens/revoke", `{"id":"`+info.ID+`"}`); st != 200 {
			t.Fatalf("revoke token: %d %s", st, body)
		}
		if res, _ := se.do(t, call{method: "GET", path: "/admin/v1/flows", token: tok}); res.StatusCode != 401 {
			t.Fatalf("revoked token: %d, want 401", res.StatusCode)
		}
		if st, body := ad.api(t, "POST", "/admin/v1/staff/disable", `{"name":"omar"}`); st != 200 {
			t.Fatalf("disable: %d %s", st, body)
		}
		if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 401 {
			t.Fatalf("disabled over the API: %d, want 401", st)
		}
		if se.audited("staff.account:disabled") != 1 || se.audited("staff.token:revoked") != 1 {
			t.Errorf("audit = %v", se.backend.auditActions())
		}
	})
	t.Run("sign out", func(t *testing.T) {
		se := newStaffEnv(t)
		se.add(t, "omar", "operator")
		b := se.signIn(t, "omar", "192.0.2.41")
		stolen := b.jar[cookieSession].Value
		if st, _ := b.send(t, "POST", LogoutPath, url.Values{}, nil, ""); st != 403 {
			t.Fatalf("sign-out without the CSRF token: %d, want 403", st)
		}
		if st, _ := b.send(t, "POST", LogoutPath, url.Values{"csrf": {b.csrf()}}, nil, ""); st != fiber.StatusSeeOther {
			t.Fatalf("sign-out: %d", st)
		}
		if b.jar[cookieSession] != nil {
			t.Error("the session cookie was not cleared")
		}
		b.jar[cookieSession] = &http.Cookie{Name: cookieSession, Value: stolen}
		if st, _ := b.api(t, "GET", "/admin/v1/flows", ""); st != 401 {
			t.Fatalf("the signed-out cookie still works: %d", st)
		}
		if se.audited("staff.signout:ok") != 1 {
			t.Errorf("sign-out not audited: %v", se.backend.auditActions())
		}
	})
}

// TestStaffCSRFRefused: a cookie-authenticated state change without the
// header, with a wrong one, or with the header but no cookie is refused
// (403) and nothing is done; the same with the header succeeds.
func TestStaffCSRFRefused(t *testing.T) {
	se := newStaffEnv(t)
	se.add(t, "dana", "dpo")
	b := se.signIn(t, "dana", "192.0.2.50")
	body := `{"channel":"whatsapp","user":"` + canaryUser + `"}`
	for name, hdr := range map[string]map[string]string{
		"no header":    {},
		"wrong header": {HeaderCSRF: "forged-value"},
	} {
		if st, _ := b.send(t, "POST", "/admin/v1/subjects/erase", nil, hdr, body); st != 403 {
			t.Errorf("%s: status %d, want 403", name, st)
		}
	}
	saved := b.jar[CookieCSRF]
	delete(b.jar, CookieCSRF)
	if st, _ := b.send(t, "POST", "/admin/v1/subjects/erase", nil, map[string]string{HeaderCSRF: saved.Value}, body); st != 403 {
		t.Errorf("header without the cookie: %d, want 403", st)
	}
	b.jar[CookieCSRF] = saved
	// Login CSRF: a sign-in form posted by another site is refused.
	other := se.browser("192.0.2.51")
	for _, site := range []string{"cross-site", "same-site"} {
		if st, _ := other.send(t, "POST", LoginPath, url.Values{"name": {"dana"}, "password": {staffPassword}}, map[string]string{"Sec-Fetch-Site": site}, ""); st != 403 || len(other.jar) != 0 {
			t.Errorf("sign-in posted %s: %d, cookies %v; want 403 and no session", site, st, other.jar)
		}
	}
	if len(se.backend.calls) != 0 {
		t.Fatalf("the backend acted on a forged request: %v", se.backend.calls)
	}
	if st, _ := b.api(t, "POST", "/admin/v1/subjects/erase", body); st != 200 {
		t.Errorf("with the header: %d", st)
	}
	if se.audited("staff.csrf:refused") != 5 {
		t.Errorf("CSRF refusals audited %d times, want 5", se.audited("staff.csrf:refused"))
	}
	if st, _ := b.api(t, "GET", "/admin/v1/audit/verify", ""); st != 200 {
		t.Errorf("a GET needs no CSRF header: %d", st)
	}
}

// TestStaffSignInThrottling: wrong passwords lock out the account (from
// any address) and the address (for any account); a missing credential is
// not counted.
func TestStaffSignInThrottling(t *testing.T) {
	se := newStaffEnv(t)
	se.add(t, "vera", "viewer")
	se.add(t, "vlad", "viewer")
	post := func(ip, name, pw string) int {
		st, _ := se.browser(ip).send(t, "POST", LoginPath, url.Values{"name": {name}, "password": {pw}}, nil, "")
		return st
	}
	for i := range 20 {
		if st := post("192.0.2.60", "vera", ""); st != 400 {
			t.Fatalf("empty password %d: %d, want 400", i, st)
		}
	}
	if st := post("192.0.2.60", "vera", staffPassword); st != fiber.StatusSeeOther {
		t.Fatalf("missing credentials were counted: right password = %d", st)
	}
	// Per account: five wrong passwords from five addresses.
	for i := range 5 {
		if st := post("198.51.100."+string(rune('1'+i)), "vera", "wrong password here"); st != 401 {
			t.Fatalf("wrong password %d: %d", i, st)
		}
	}
	if st := post("203.0.113.99", "vera", staffPassword); st != 429 {
		t.Fatalf("locked account, right password, new address: %d, want 429", st)
	}
	if st := post("203.0.113.99", "vlad", staffPassword); st != fiber.StatusSeeOther {
		t.Fatalf("another account from that address: %d, want 303", st)
	}
	// Per address: five unknown names from one address.
	for i := range 5 {
		post("192.0.2.61", "nobody"+string(rune('a'+i)), "wrong password here")
	}
	if st := post("192.0.2.61", "vlad", staffPassword); st != 429 {
		t.Fatalf("locked address, another account: %d, want 429", st)
	}
	se.clock.Advance(5 * time.Minute)
	if st := post("192.0.2.61", "vera", staffPassword); st != fiber.StatusSeeOther {
		t.Fatalf("after the cooldown: %d, want 303", st)
	}
	if n := se.audited("staff.signin:failed"); n != 10 {
		t.Errorf("failed sign-ins audited %d times, want 10", n)
	}
	if n := se.audited("auth:lockout"); n != 2 {
		t.Errorf("lockouts audited %d times, want 2", n)
	}
}

// TestStaffAPITokens: named, expiring, listable (without the token),
// revocable at once; a personal token dies with its owner's account.
func TestStaffAPITokens(t *testing.T) {
	ctx := context.Background()
	se := newStaffEnv(t)
	se.add(t, "dana", "dpo")
	svc, info, err := se.staff.AddToken(ctx, ActorCLI, "crm-export", "", "operator", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := se.staff.AddToken(ctx, ActorCLI, "dana laptop", "dana", "", DefaultTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := se.staff.AddToken(ctx, ActorCLI, "x", "dana", "admin", time.Hour); err == nil {
		t.Error("a personal token with a role its owner lacks was made")
	}
	bearer := func(tok, method, path, body string) int {
		res, _ := se.do(t, call{method: method, path: path, token: tok, body: body})
		return res.StatusCode
	}
	exp := `{"channel":"whatsapp","user":"` + canaryUser + `"}`
	if st := bearer(svc, "POST", "/admin/v1/subjects/export", exp); st != 200 {
		t.Fatalf("service token export: %d (no CSRF header needed for a bearer token)", st)
	}
	if st := bearer(svc, "POST", "/admin/v1/subjects/erase", exp); st != 403 {
		t.Fatalf("operator service token erase: %d, want 403", st)
	}
	if st := bearer(own, "GET", "/admin/v1/audit/verify", ""); st != 200 {
		t.Fatalf("personal dpo token: %d", st)
	}
	list, _ := se.staff.Tokens()
	if len(list) != 2 {
		t.Fatalf("listed %d tokens, want 2", len(list))
	}
	for _, b := range se.store.recs {
		if strings.Contains(string(b.blob), svc) || strings.Contains(string(b.blob), own) {
			t.Fatal("a token is stored in the clear")
		}
	}
	if err := se.staff.RevokeToken(ctx, ActorCLI, info.ID); err != nil {
		t.Fatal(err)
	}
	if st := bearer(svc, "GET", "/admin/v1/flows", ""); st != 401 {
		t.Fatalf("revoked token: %d, want 401", st)
	}
	se.staff.SetDisabled(ctx, ActorCLI, "dana", true)
	if st := bearer(own, "GET", "/admin/v1/flows", ""); st != 401 {
		t.Fatalf("token of a disabled account: %d, want 401", st)
	}
	se.staff.SetDisabled(ctx, ActorCLI, "dana", false)
	if st := bearer(own, "GET", "/admin/v1/flows", ""); st != 200 {
		t.Fatalf("token of the enabled account: %d", st)
	}
	se.clock.Advance(DefaultTokenTTL)
	if st := bearer(own, "GET", "/admin/v1/flows", ""); st != 401 {
		t.Fatalf("expired token: %d, want 401", st)
	}
	for _, want := range []string{"staff.token:added_operator", "staff.token:added_dpo", "staff.token:revoked", "staff.account:disabled"} {
		if se.audited(want) != 1 {
			t.Errorf("%s audited %d times, want 1", want, se.audited(want))
		}
	}
}

// adminRoutes lists every route the app serves under Prefix (from Fiber's
// own table, so a route added later is covered), with path parameters
// filled in.
func adminRoutes(app *fiber.App) []endpoint {
	var out []endpoint
	seen := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, Prefix+"/") || r.Method == fiber.MethodHead || seen[r.Method+r.Path] {
			continue
		}
		seen[r.Method+r.Path] = true
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
				parts[i] = "x1"
			}
		}
		out = append(out, endpoint{method: r.Method, path: strings.Join(parts, "/")})
	}
	return out
}

// TestStaffRoleMatrixEveryRoute signs in one account per role and calls
// every admin route the app has. The action a route performs is read from
// the audit entry it writes; the grants table says whether the role may
// perform it: if not the answer is 403 and the backend is not called,
// otherwise anything but 401 and 403. Anonymous callers get 401 everywhere.
func TestStaffRoleMatrixEveryRoute(t *testing.T) {
	se := newStaffEnv(t)
	routes := adminRoutes(se.app)
	if len(routes) < 7 {
		t.Fatalf("found %d admin routes, want at least the 7 of the admin API", len(routes))
	}
	for _, want := range []string{"GET /admin/v1/me", "POST /admin/v1/broadcasts", "GET /admin/v1/handoffs",
		"GET /admin/v1/handoffs/x1", "POST /admin/v1/handoffs/x1/reply", "GET /admin/v1/audit", "POST /admin/v1/staff/disable"} {
		if !slices.ContainsFunc(routes, func(e endpoint) bool { return e.method+" "+e.path == want }) {
			t.Errorf("the matrix does not walk %s", want)
		}
	}
	granted := map[string]bool{}
	for _, actions := range grants {
		for _, a := range actions {
			granted[a] = true
		}
	}
	browsers := map[Role]*browser{}
	for r, name := range roleNames {
		se.add(t, name+"1", name)
		browsers[r] = se.signIn(t, name+"1", "192.0.2.7"+string(rune('0'+int(r))))
	}
	anon := se.browser("192.0.2.99")
	for _, rt := range routes {
		if st, _ := anon.api(t, rt.method, rt.path, ""); st != 401 {
			t.Errorf("anonymous %s %s: %d, want 401", rt.method, rt.path, st)
		}
		for r, b := range browsers {
			before := len(se.backend.auditActions())
			calls := len(se.backend.calls) + len(se.handoffs.calls)
			st, body := b.api(t, rt.method, rt.path, `{"channel":"whatsapp","user":"`+canaryUser+`"}`)
			acts := se.backend.auditActions()[before:]
			if len(acts) == 0 {
				t.Errorf("%s %s as %s: nothing audited", rt.method, rt.path, r)
				continue
			}
			action, _, _ := strings.Cut(acts[0], ":")
			if !granted[action] {
				t.Errorf("%s %s performs %q, which the grants table gives to no role", rt.method, rt.path, action)
			}
			switch {
			case !r.Can(action) && st != 403:
				t.Errorf("%s %s (%s) as %s: %d, want 403 %s", rt.method, rt.path, action, r, st, body)
			case !r.Can(action) && len(se.backend.calls)+len(se.handoffs.calls) != calls:
				t.Errorf("%s %s as %s: refused but the backend was called", rt.method, rt.path, r)
			case r.Can(action) && (st == 401 || st == 403):
				t.Errorf("%s %s (%s) as %s: %d, want it allowed", rt.method, rt.path, action, r, st)
			}
		}
	}
}

// TestSignInPagesInItalian: the sign-in pages follow Accept-Language (en
// and it, the console's languages), and both have every text.
func TestSignInPagesInItalian(t *testing.T) {
	for key := range loginText["en"] {
		if loginText["it"][key] == "" {
			t.Errorf("Italian lacks %q", key)
		}
	}
	for key := range loginText["it"] {
		if loginText["en"][key] == "" {
			t.Errorf("English lacks %q", key)
		}
	}
	src, err := os.ReadFile("login.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"((?:err|t)_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if loginText["en"][m[1]] == "" {
			t.Errorf("login.go uses %q, which loginText lacks", m[1])
		}
	}
	se := newStaffEnv(t)
	se.add(t, "maria", "operator")
	b := se.browser("192.0.2.80")
	it := map[string]string{"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"}
	if st, page := b.send(t, "GET", LoginPath, nil, it, ""); st != 200 || !strings.Contains(page, `<html lang="it">`) || !strings.Contains(page, "Nome utente") {
		t.Fatalf("Italian sign-in page: %d\n%s", st, page)
	}
	if _, page := b.send(t, "POST", LoginPath, url.Values{"name": {"maria"}, "password": {"wrong password here"}}, it, ""); !strings.Contains(page, "non corrispondono") {
		t.Errorf("Italian wrong password page:\n%s", page)
	}
	if _, page := b.send(t, "POST", LoginPath, url.Values{"name": {"maria"}, "password": {staffPassword}}, it, ""); !strings.Contains(page, "Il tuo ruolo (operator) richiede un secondo fattore") {
		t.Errorf("Italian enrolment page:\n%s", page)
	}
	if _, page := b.send(t, "GET", LoginPath, nil, map[string]string{"Accept-Language": "de-DE"}, ""); !strings.Contains(page, `<html lang="en">`) {
		t.Errorf("a language without texts should fall back to English")
	}
}
