package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// fakeHandoffs records the console calls that reached the backend.
type fakeHandoffs struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeHandoffs) record(c string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return f.err
}

func (f *fakeHandoffs) Handoffs(context.Context) ([]HandoffInfo, error) {
	return []HandoffInfo{{Ref: testRef, Channel: "whatsapp", Flow: "shop", Reason: "keyword"}}, f.record("list")
}

func (f *fakeHandoffs) Handoff(_ context.Context, ref string) (HandoffDetail, error) {
	return HandoffDetail{HandoffInfo: HandoffInfo{Ref: ref}, Transcript: []TranscriptLine{{From: "customer", Text: "hello"}}}, f.record("read " + ref)
}

func (f *fakeHandoffs) Reply(_ context.Context, ref, text string) error {
	return f.record("reply " + ref + " " + text)
}

func (f *fakeHandoffs) Return(_ context.Context, ref, step string) error {
	return f.record("return " + ref + " " + step)
}

func (f *fakeHandoffs) Close(_ context.Context, ref string) error { return f.record("close " + ref) }

func (f *fakeHandoffs) AuditLog(context.Context, AuditQuery) ([]AuditRecord, error) {
	return nil, f.record("audit")
}

const testRef = "0123456789abcdef0123456789abcdef"

func newConsoleEnv(t *testing.T) (*env, *fakeHandoffs) {
	t.Helper()
	e := newEnv(t)
	f := &fakeHandoffs{}
	e.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	Register(e.app, Config{Tokens: e.tokens, Backend: e.backend, Handoffs: f, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	return e, f
}

// TestConsoleRoutesRefuseBadRequests: a reference that is not one the queue
// lists, and bodies that are not one JSON object with the one key the
// route takes, are refused before the backend is called, and audited.
func TestConsoleRoutesRefuseBadRequests(t *testing.T) {
	e, f := newConsoleEnv(t)
	base := "/admin/v1/handoffs/" + testRef
	for _, c := range []struct {
		c    call
		want int
	}{
		{call{method: http.MethodGet, path: "/admin/v1/handoffs/15550001234"}, 400},
		{call{method: http.MethodGet, path: "/admin/v1/handoffs/..%2Fsubjects"}, 400},
		{call{method: http.MethodPost, path: base + "/reply", body: `{"text":""}`}, 400},
		{call{method: http.MethodPost, path: base + "/reply", body: `{"text":"hi","step":"menu"}`}, 400},
		{call{method: http.MethodPost, path: base + "/reply", body: `{"text":"hi","to":"+39333"}`}, 400},
		{call{method: http.MethodPost, path: base + "/reply", body: "{\"text\":\"a\\u0007b\"}"}, 400},
		{call{method: http.MethodPost, path: base + "/reply", body: `{"text":"` + strings.Repeat("x", 4097) + `"}`}, 400},
		{call{method: http.MethodPost, path: base + "/reply", body: `text=hi`, contentType: "application/x-www-form-urlencoded"}, 415},
		{call{method: http.MethodPost, path: base + "/return", body: `{"step":"../menu"}`}, 400},
		{call{method: http.MethodPost, path: base + "/close", body: `{"text":"bye"}`}, 400},
		{call{method: http.MethodGet, path: "/admin/v1/audit?since=yesterday"}, 400},
		{call{method: http.MethodGet, path: "/admin/v1/audit?limit=0"}, 400},
	} {
		c.c.token = dpoToken
		if res, body := e.do(t, c.c); res.StatusCode != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.c.method, c.c.path, c.c.body, res.StatusCode, body, c.want)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("refused requests reached the backend: %q", f.calls)
	}
	if got := e.backend.auditActions(); len(got) == 0 || got[0] != ActionHandoffsRead+":"+OutcomeInvalid {
		t.Errorf("refusals audited as %q", got)
	}
}

// TestConsoleReadIsAuditedFirst: opening a transcript writes the audit
// entry (with the reference) before the backend reads it; when the audit
// log cannot take it, nothing is read (503).
func TestConsoleReadIsAuditedFirst(t *testing.T) {
	e, f := newConsoleEnv(t)
	res, body := e.do(t, call{method: http.MethodGet, path: "/admin/v1/handoffs/" + testRef, token: operatorToken})
	if res.StatusCode != 200 || !strings.Contains(body, `"transcript":[{"from":"customer","text":"hello"`) {
		t.Fatalf("read: %d %s", res.StatusCode, body)
	}
	e.backend.mu.Lock()
	audits := append([]auditEntry(nil), e.backend.audits...)
	e.backend.mu.Unlock()
	if len(audits) != 2 || audits[0].action != "handoffs.read:requested" || audits[0].ref != testRef || audits[1].action != "handoffs.read:ok" ||
		!strings.HasPrefix(audits[0].actor, "operator:") {
		t.Errorf("audit entries %+v", audits)
	}
	e.backend.auditErr = errors.New("audit log full")
	f.calls = nil
	if res, _ := e.do(t, call{method: http.MethodGet, path: "/admin/v1/handoffs/" + testRef, token: operatorToken}); res.StatusCode != 503 || len(f.calls) != 0 {
		t.Errorf("read without an audit log: %d, backend calls %q; want 503 and none", res.StatusCode, f.calls)
	}
	e.backend.auditErr = nil
	f.err = ErrNotHandedOff
	if res, _ := e.do(t, call{method: http.MethodPost, path: "/admin/v1/handoffs/" + testRef + "/close", token: operatorToken}); res.StatusCode != 409 {
		t.Errorf("close of a conversation no longer handed off: %d, want 409", res.StatusCode)
	}
}
