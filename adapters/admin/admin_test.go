package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// canaryUser is a subject that must never show up in a response or log.
const canaryUser = "+393331234567"

type auditEntry struct{ actor, action, ref string }

// fakeBackend records every call; errors and results are set per test.
type fakeBackend struct {
	mu       sync.Mutex
	audits   []auditEntry
	calls    []string
	auditErr error
	err      error // returned by Export, Erase, Rectify, Reload, AuditVerify
	reload   ReloadResult
	verified int
}

func (b *fakeBackend) record(call string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call)
	return b.err
}

func (b *fakeBackend) Flows() []FlowInfo {
	return []FlowInfo{{ID: "support", Version: 2}, {ID: "booking", Version: 3, Languages: []string{"en"}}}
}

func (b *fakeBackend) Reload(context.Context) (ReloadResult, error) {
	return b.reload, b.record("reload")
}

func (b *fakeBackend) Export(_ context.Context, channel, user string) (json.RawMessage, error) {
	return json.RawMessage(`{"fields":{"name":{"value":"Ada"}}}`), b.record("export " + channel + " " + user)
}

func (b *fakeBackend) Erase(_ context.Context, channel, user string) (json.RawMessage, error) {
	return json.RawMessage(`{"receipt":"r-1"}`), b.record("erase " + channel + " " + user)
}

func (b *fakeBackend) Rectify(_ context.Context, channel, user, field, value string) error {
	return b.record("rectify " + channel + " " + user + " " + field + "=" + value)
}

func (b *fakeBackend) AuditVerify(context.Context) (int, error) {
	return b.verified, b.record("verify")
}

func (b *fakeBackend) Audit(_ context.Context, actor, action, ref string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.auditErr != nil {
		return b.auditErr
	}
	b.audits = append(b.audits, auditEntry{actor, action, ref})
	return nil
}

func (b *fakeBackend) auditActions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, a := range b.audits {
		out = append(out, a.action)
	}
	return out
}

// fakeClock is moved by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	app     *fiber.App
	backend *fakeBackend
	clock   *fakeClock
	logs    *bytes.Buffer
	tokens  *Tokens
}

func newEnv(t *testing.T) *env {
	t.Helper()
	toks, err := ParseTokenList(strings.Join([]string{
		"viewer:" + viewerToken, "operator:" + operatorToken, "dpo:" + dpoToken, "admin:" + adminToken,
	}, ","))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		backend: &fakeBackend{reload: ReloadResult{OK: true}, verified: 42},
		clock:   &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)},
		logs:    &bytes.Buffer{},
		tokens:  toks,
	}
	// ProxyHeader lets tests pose as different clients; a real server must
	// also enable the trusted-proxy check.
	e.app = fiber.New(fiber.Config{DisableStartupMessage: true, ProxyHeader: fiber.HeaderXForwardedFor})
	Register(e.app, Config{
		Tokens:     toks,
		Backend:    e.backend,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        e.clock.Now,
		SubjectRef: func(channel, user string) string { return "subj-" + channel + "-" + pseudo(user) },
	})
	return e
}

// pseudo stands in for the vault's HMAC in tests.
func pseudo(user string) string { return HashToken(user)[7:19] }

type call struct {
	method, path, token, body, ip, contentType string
}

func (e *env) do(t *testing.T, c call) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, body)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.ip != "" {
		req.Header.Set("X-Forwarded-For", c.ip)
	}
	res, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatalf("app.Test: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

type endpoint struct {
	action, method, path, body string
}

var endpoints = []endpoint{
	{ActionFlowsList, "GET", "/admin/v1/flows", ""},
	{ActionMetricsSummary, "GET", "/admin/v1/metrics-summary", ""},
	{ActionExport, "POST", "/admin/v1/subjects/export", `{"channel":"whatsapp","user":"` + canaryUser + `"}`},
	{ActionErase, "POST", "/admin/v1/subjects/erase", `{"channel":"whatsapp","user":"` + canaryUser + `"}`},
	{ActionRectify, "POST", "/admin/v1/subjects/rectify", `{"channel":"whatsapp","user":"` + canaryUser + `","field":"name","value":"Ada L."}`},
	{ActionAuditVerify, "GET", "/admin/v1/audit/verify", ""},
	{ActionFlowsReload, "POST", "/admin/v1/flows/reload", ""},
}

func TestRoleEndpointMatrix(t *testing.T) {
	allowed := map[string][]string{
		"viewer":   {ActionFlowsList, ActionMetricsSummary},
		"operator": {ActionFlowsList, ActionMetricsSummary, ActionExport},
		"dpo":      {ActionFlowsList, ActionMetricsSummary, ActionExport, ActionErase, ActionRectify, ActionAuditVerify},
		"admin":    {ActionFlowsList, ActionMetricsSummary, ActionFlowsReload},
	}
	tokens := map[string]string{"viewer": viewerToken, "operator": operatorToken, "dpo": dpoToken, "admin": adminToken}
	for role, token := range tokens {
		for _, ep := range endpoints {
			want := fiber.StatusForbidden
			for _, a := range allowed[role] {
				if a == ep.action {
					want = fiber.StatusOK
				}
			}
			t.Run(role+" "+ep.method+" "+ep.path, func(t *testing.T) {
				e := newEnv(t)
				res, body := e.do(t, call{method: ep.method, path: ep.path, token: token, body: ep.body})
				if res.StatusCode != want {
					t.Fatalf("status = %d (%s), want %d", res.StatusCode, body, want)
				}
				p, _ := e.tokens.Identify(token)
				var wantAudit []auditEntry
				if want == fiber.StatusOK {
					ref := ""
					if ep.body != "" {
						ref = "subj-whatsapp-" + pseudo(canaryUser)
					}
					wantAudit = []auditEntry{{p.Actor(), ep.action + ":requested", ref}, {p.Actor(), ep.action + ":ok", ref}}
				} else {
					wantAudit = []auditEntry{{p.Actor(), ep.action + ":denied", ""}}
					if len(e.backend.calls) != 0 {
						t.Errorf("backend called although denied: %v", e.backend.calls)
					}
				}
				if !equalAudits(e.backend.audits, wantAudit) {
					t.Errorf("audits = %+v, want %+v", e.backend.audits, wantAudit)
				}
				checkNoLeak(t, e, body, token)
			})
		}
	}
}

func TestMissingAndBadTokensAre401WithChallenge(t *testing.T) {
	for _, ep := range endpoints {
		for _, tc := range []struct {
			name, auth, actor, challenge string
		}{
			{"no token", "", ActorAnonymous, `Bearer realm="parley-admin"`},
			{"bad token", "Bearer wrong-token-0123456789abcdef", ActorUnknown, `Bearer realm="parley-admin", error="invalid_token"`},
			{"basic auth", "Basic " + dpoToken, ActorUnknown, `Bearer realm="parley-admin", error="invalid_token"`},
			{"token hash instead of token", "Bearer " + HashToken(dpoToken), ActorUnknown, `Bearer realm="parley-admin", error="invalid_token"`},
		} {
			t.Run(tc.name+" "+ep.path, func(t *testing.T) {
				e := newEnv(t)
				req := httptest.NewRequest(ep.method, ep.path, strings.NewReader(ep.body))
				req.Header.Set("Content-Type", "application/json")
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				res, err := e.app.Test(req, -1)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode != fiber.StatusUnauthorized {
					t.Fatalf("status = %d, want 401", res.StatusCode)
				}
				if got := res.Header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
				}
				want := []auditEntry{{tc.actor, ep.action + ":unauthenticated", ""}}
				if !equalAudits(e.backend.audits, want) {
					t.Errorf("audits = %+v, want %+v", e.backend.audits, want)
				}
				if len(e.backend.calls) != 0 {
					t.Errorf("backend called without a valid token: %v", e.backend.calls)
				}
				checkNoLeak(t, e, string(body), dpoToken)
			})
		}
	}
}

func TestBadTokensAreRateLimitedPerClientIP(t *testing.T) {
	e := newEnv(t)
	bad := call{method: "GET", path: "/admin/v1/flows", token: "wrong-token-0123456789abcdef", ip: "203.0.113.7"}
	for i := range 5 {
		if i > 0 {
			e.clock.Advance(5 * time.Second)
		}
		res, _ := e.do(t, bad)
		if res.StatusCode != fiber.StatusUnauthorized {
			t.Fatalf("bad try %d: status = %d, want 401", i+1, res.StatusCode)
		}
	}
	good := bad
	good.token = dpoToken
	res, body := e.do(t, good)
	if res.StatusCode != fiber.StatusTooManyRequests {
		t.Fatalf("good token during lockout: status = %d (%s), want 429", res.StatusCode, body)
	}
	if got := res.Header.Get("Retry-After"); got != "300" {
		t.Errorf("Retry-After = %q, want 300 (the 5 min cooldown)", got)
	}
	if !strings.Contains(body, `"error"`) {
		t.Errorf("body = %s, want a JSON error", body)
	}

	other := good
	other.ip = "198.51.100.2"
	if res, _ := e.do(t, other); res.StatusCode != fiber.StatusOK {
		t.Errorf("another client IP: status = %d, want 200", res.StatusCode)
	}

	e.clock.Advance(299 * time.Second)
	if res, _ := e.do(t, good); res.StatusCode != fiber.StatusTooManyRequests {
		t.Errorf("1 s before the cooldown ends: status = %d, want 429", res.StatusCode)
	}
	e.clock.Advance(time.Second)
	if res, _ := e.do(t, good); res.StatusCode != fiber.StatusOK {
		t.Errorf("after the cooldown: status = %d, want 200", res.StatusCode)
	}

	lockouts := 0
	for _, a := range e.backend.audits {
		if a.action == "auth:lockout" {
			lockouts++
		}
		if a.action == "flows.list:rate_limited" {
			t.Errorf("a rate-limited request was audited: %+v", a)
		}
	}
	if lockouts != 1 {
		t.Errorf("auth:lockout audited %d times, want 1", lockouts)
	}
}

func TestBadTokenWindowSlides(t *testing.T) {
	e := newEnv(t)
	bad := call{method: "GET", path: "/admin/v1/flows", token: "wrong-token-0123456789abcdef"}
	for range 4 {
		e.do(t, bad)
	}
	e.clock.Advance(61 * time.Second)
	for i := range 4 {
		if res, _ := e.do(t, bad); res.StatusCode != fiber.StatusUnauthorized {
			t.Fatalf("bad try %d after the window moved: status = %d, want 401", i+1, res.StatusCode)
		}
	}
	if res, _ := e.do(t, call{method: "GET", path: "/admin/v1/flows", token: viewerToken}); res.StatusCode != fiber.StatusOK {
		t.Errorf("4+4 failures in separate windows locked the client out: status = %d", res.StatusCode)
	}
	if res, _ := e.do(t, bad); res.StatusCode != fiber.StatusUnauthorized {
		t.Errorf("5th failure in the window: status = %d, want 401", res.StatusCode)
	}
	if res, _ := e.do(t, call{method: "GET", path: "/admin/v1/flows", token: viewerToken}); res.StatusCode != fiber.StatusTooManyRequests {
		t.Errorf("after 5 failures within a minute: status = %d, want 429", res.StatusCode)
	}
}

func TestReloadRefusedRelaysDiagnosticsWith422(t *testing.T) {
	e := newEnv(t)
	e.backend.reload = ReloadResult{OK: false, Diagnostics: "flows/booking.yaml:14:7: error: unknown field \"promt\" [PARLEY-101]"}
	res, body := e.do(t, call{method: "POST", path: "/admin/v1/flows/reload", token: adminToken})
	if res.StatusCode != fiber.StatusUnprocessableEntity {
		t.Fatalf("status = %d, want 422", res.StatusCode)
	}
	var got struct {
		OK          bool
		Error       string
		Diagnostics string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.OK || got.Diagnostics != e.backend.reload.Diagnostics || got.Error == "" {
		t.Errorf("body = %s, want ok false, an error and the diagnostics", body)
	}
	if acts := e.backend.auditActions(); strings.Join(acts, ",") != "flows.reload:requested,flows.reload:refused" {
		t.Errorf("audits = %v, want requested then refused", acts)
	}
}

func TestBackendOutcomes(t *testing.T) {
	const secretErr = "badger: value log truncated"
	tests := []struct {
		name     string
		err      error
		ep       endpoint
		token    string
		status   int
		outcome  string
		wantBody string
	}{
		{"unknown subject is 404", ErrNotFound, endpoints[2], operatorToken, 404, "not_found", ""},
		{"rejected rectify is 400", ErrInvalid, endpoints[4], dpoToken, 400, "invalid", ""},
		{"rectify value that does not fit the field is 422 with the reason", fmt.Errorf("wrapped: %w", &RejectedValueError{Reason: `"name" takes text of 1 to 80 characters`}), endpoints[4], dpoToken, 422, "invalid",
			`{"error":"the value was refused: \"name\" takes text of 1 to 80 characters"}`},
		{"broken audit chain is 409", ErrChainBroken, endpoints[5], dpoToken, 409, "broken", `{"error":"audit chain broken","ok":false,"verified":42}`},
		{"backend failure on erase is 500", errors.New(secretErr), endpoints[3], dpoToken, 500, "error", `{"error":"Internal Server Error"}`},
		{"backend failure on reload is 500", errors.New(secretErr), endpoints[6], adminToken, 500, "error", `{"error":"Internal Server Error"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.backend.err = tc.err
			res, body := e.do(t, call{method: tc.ep.method, path: tc.ep.path, token: tc.token, body: tc.ep.body})
			if res.StatusCode != tc.status {
				t.Errorf("status = %d (%s), want %d", res.StatusCode, body, tc.status)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("body = %s, want %s", body, tc.wantBody)
			}
			want := tc.ep.action + ":requested," + tc.ep.action + ":" + tc.outcome
			if got := strings.Join(e.backend.auditActions(), ","); got != want {
				t.Errorf("audits = %s, want %s", got, want)
			}
			if strings.Contains(body, "badger") {
				t.Errorf("backend error text reached the client: %s", body)
			}
			checkNoLeak(t, e, body, tc.token)
		})
	}
}

func TestSuccessfulResponses(t *testing.T) {
	e := newEnv(t)
	_, body := e.do(t, call{method: "GET", path: "/admin/v1/flows", token: viewerToken})
	if want := `{"flows":[{"id":"booking","version":3,"description":"","languages":["en"]},{"id":"support","version":2,"description":"","languages":[]}]}`; body != want {
		t.Errorf("flows = %s\nwant    %s", body, want)
	}
	res, body := e.do(t, call{method: "POST", path: "/admin/v1/subjects/export", token: operatorToken, body: endpoints[2].body})
	if body != `{"fields":{"name":{"value":"Ada"}}}` || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("export = %s (%s), want the backend's JSON", body, res.Header.Get("Content-Type"))
	}
	if got := e.backend.calls[0]; got != "export whatsapp "+canaryUser {
		t.Errorf("backend call = %q, want the subject as given", got)
	}
	_, body = e.do(t, call{method: "POST", path: "/admin/v1/subjects/rectify", token: dpoToken, body: endpoints[4].body})
	if body != `{"ok":true}` || e.backend.calls[1] != "rectify whatsapp "+canaryUser+" name=Ada L." {
		t.Errorf("rectify = %s, call %q", body, e.backend.calls[1])
	}
	_, body = e.do(t, call{method: "GET", path: "/admin/v1/audit/verify", token: dpoToken})
	if body != `{"ok":true,"verified":42}` {
		t.Errorf("audit verify = %s", body)
	}
	_, body = e.do(t, call{method: "GET", path: "/admin/v1/metrics-summary", token: viewerToken})
	var m struct {
		Flows         int
		AdminRequests map[string]int `json:"admin_requests"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Flows != 2 || m.AdminRequests["ok"] != 4 {
		t.Errorf("metrics summary = %s, want 2 flows and 4 ok requests", body)
	}
	res, _ = e.do(t, call{method: "GET", path: "/admin/v1/flows", token: viewerToken})
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
	}
}

func TestAuditUnavailableMeansNothingIsDone(t *testing.T) {
	e := newEnv(t)
	e.backend.auditErr = errors.New("disk full")
	res, body := e.do(t, call{method: "POST", path: "/admin/v1/subjects/erase", token: dpoToken, body: endpoints[3].body})
	if res.StatusCode != fiber.StatusServiceUnavailable {
		t.Errorf("status = %d (%s), want 503", res.StatusCode, body)
	}
	if len(e.backend.calls) != 0 {
		t.Errorf("erase ran without an audit record: %v", e.backend.calls)
	}
}

func TestInvalidBodiesAreRejectedAndAudited(t *testing.T) {
	tests := []struct {
		name, path, body, contentType string
		status                        int
	}{
		{"unknown channel", "/admin/v1/subjects/export", `{"channel":"sms","user":"` + canaryUser + `"}`, "", 400},
		{"missing user", "/admin/v1/subjects/export", `{"channel":"web"}`, "", 400},
		{"user with a newline", "/admin/v1/subjects/erase", `{"channel":"web","user":"a\nb` + canaryUser + `"}`, "", 400},
		{"field on export", "/admin/v1/subjects/export", `{"channel":"web","user":"` + canaryUser + `","field":"name"}`, "", 400},
		{"bad field name", "/admin/v1/subjects/rectify", `{"channel":"web","user":"` + canaryUser + `","field":"na me","value":"x"}`, "", 400},
		{"empty value", "/admin/v1/subjects/rectify", `{"channel":"web","user":"` + canaryUser + `","field":"name","value":""}`, "", 400},
		{"unknown key", "/admin/v1/subjects/erase", `{"channel":"web","user":"` + canaryUser + `","phone":"` + canaryUser + `"}`, "", 400},
		{"not JSON", "/admin/v1/subjects/erase", `user=` + canaryUser, "", 400},
		{"form post", "/admin/v1/subjects/erase", `user=` + canaryUser, "application/x-www-form-urlencoded", 415},
		{"too large", "/admin/v1/subjects/erase", `{"channel":"web","user":"` + canaryUser + strings.Repeat("x", 9000) + `"}`, "", 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res, body := e.do(t, call{method: "POST", path: tc.path, token: dpoToken, body: tc.body, contentType: tc.contentType})
			if res.StatusCode != tc.status {
				t.Errorf("status = %d (%s), want %d", res.StatusCode, body, tc.status)
			}
			if len(e.backend.calls) != 0 {
				t.Errorf("backend called with an invalid body: %v", e.backend.calls)
			}
			acts := e.backend.auditActions()
			if len(acts) != 1 || !strings.HasSuffix(acts[0], ":invalid") {
				t.Errorf("audits = %v, want one :invalid entry", acts)
			}
			checkNoLeak(t, e, body, dpoToken)
		})
	}
}

func TestAuditNeverCarriesTokensOrUsers(t *testing.T) {
	e := newEnv(t)
	for _, ep := range endpoints {
		for _, tok := range []string{"", "wrong-token-0123456789abcdef", viewerToken, dpoToken, adminToken} {
			e.do(t, call{method: ep.method, path: ep.path, token: tok, body: ep.body, ip: "192.0.2." + string(rune('1'+len(tok)%9))})
		}
	}
	if len(e.backend.audits) == 0 {
		t.Fatal("nothing audited")
	}
	for _, a := range e.backend.audits {
		for _, secret := range []string{viewerToken, dpoToken, adminToken, "wrong-token", canaryUser, HashToken(dpoToken)[7:]} {
			if strings.Contains(a.actor+a.action+a.ref, secret) {
				t.Errorf("audit entry %+v contains %q", a, secret)
			}
		}
	}
}

func TestRegisterRequiresTokensAndBackend(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Register without Tokens and Backend did not panic")
		}
	}()
	Register(fiber.New(), Config{})
}

func equalAudits(got, want []auditEntry) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// checkNoLeak fails if the response body or the logs carry the token, its
// hash or the subject.
func checkNoLeak(t *testing.T, e *env, body, token string) {
	t.Helper()
	for _, s := range []string{token, HashToken(token)[7:], canaryUser, "393331234567"} {
		if s == "" {
			continue
		}
		if strings.Contains(body, s) {
			t.Errorf("response body contains %q: %s", s, body)
		}
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("logs contain %q", s)
		}
	}
}
