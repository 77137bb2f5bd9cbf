package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/parleyhq/parley/adapters/web"
	"github.com/parleyhq/parley/engine/runtime"
)

// fakeChatter records what each Chat call received and answers with reply.
type fakeChatter struct {
	mu    sync.Mutex
	calls []chatCall
	reply []runtime.Message
	err   error
	flows []web.FlowInfo
}

type chatCall struct {
	flow, user string
	in         runtime.Inbound
}

func (f *fakeChatter) Chat(_ context.Context, flowID, user string, in runtime.Inbound) ([]runtime.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, chatCall{flowID, user, in})
	return f.reply, f.err
}

func (f *fakeChatter) Flows() []web.FlowInfo { return f.flows }

func newFake() *fakeChatter {
	return &fakeChatter{
		flows: []web.FlowInfo{
			{ID: "support", Version: 1, Description: "Help desk"},
			{ID: "dental-booking", Version: 3, Description: "Book a check-up", Languages: []string{"en", "it"}},
		},
		reply: []runtime.Message{
			{Kind: runtime.KindSay, Text: "Hi!"},
			{Kind: runtime.KindAsk, Text: "Pick a time", Options: []runtime.Option{{ID: "mon9", Title: "Mon 9:00"}, {ID: "tue14", Title: "Tue 14:00"}}},
		},
	}
}

func newApp(t *testing.T, chat web.Chatter, logs io.Writer) *fiber.App {
	t.Helper()
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler, DisableStartupMessage: true})
	var log *slog.Logger
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n := 0
	web.Register(app, web.Config{Chat: chat, Logger: log, NewMessageID: func() string { n++; return "web-test-" + string(rune('0'+n)) }})
	return app
}

func do(t *testing.T, app *fiber.App, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("app.Test: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, body
}

func postJSON(body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestPageIsServedAsHTMLWithChatHooks(t *testing.T) {
	app := newApp(t, newFake(), nil)
	res, body := do(t, app, httptest.NewRequest(http.MethodGet, "/", nil))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / status = %d, want 200", res.StatusCode)
	}
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'sha256-", "style-src 'sha256-", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy = %q, want it to contain %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy allows unsafe-inline: %q", csp)
	}
	page := string(body)
	for _, hook := range []string{
		`id="flow"`, `id="lang"`, `id="restart"`, `id="transcript"`, `role="log"`, `aria-live="polite"`,
		`id="composer"`, `id="text"`, `<label for="text"`, `id="send"`,
		"api/chat", "api/flows", "api/session", "sessionStorage", "data-option-id",
		"Local simulator",
	} {
		if !strings.Contains(page, hook) {
			t.Errorf("page does not contain %q", hook)
		}
	}
	for _, external := range []string{"http://", "https://", "//cdn", "@import", "<link"} {
		if strings.Contains(page, external) {
			t.Errorf("page references an external resource: contains %q", external)
		}
	}
}

func TestFlowsAreListedSortedByID(t *testing.T) {
	app := newApp(t, newFake(), nil)
	res, body := do(t, app, httptest.NewRequest(http.MethodGet, "/api/flows", nil))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	var got struct{ Flows []web.FlowInfo }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if len(got.Flows) != 2 || got.Flows[0].ID != "dental-booking" || got.Flows[1].ID != "support" {
		t.Fatalf("flows = %+v, want dental-booking then support", got.Flows)
	}
	if got.Flows[0].Version != 3 || got.Flows[0].Description != "Book a check-up" || strings.Join(got.Flows[0].Languages, ",") != "en,it" {
		t.Errorf("first flow = %+v, want version 3, its description and en,it", got.Flows[0])
	}
	if !strings.Contains(string(body), `"languages":[]`) {
		t.Errorf("a flow without languages should list [] not null: %s", body)
	}
}

func TestChatPassesTheTurnAndMapsMessages(t *testing.T) {
	fake := newFake()
	app := newApp(t, fake, nil)
	res, body := do(t, app, postJSON(`{"flow":"dental-booking","text":"hello there","choice":"","lang":"it"}`))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", res.StatusCode, body)
	}
	if len(fake.calls) != 1 {
		t.Fatalf("Chat called %d times, want 1", len(fake.calls))
	}
	call := fake.calls[0]
	if call.flow != "dental-booking" || !strings.HasPrefix(call.user, web.UserPrefix) || len(call.user) != len(web.UserPrefix)+32 {
		t.Errorf("Chat(flow, user) = (%q, %q), want (dental-booking, web:<32 hex digits of the session>)", call.flow, call.user)
	}
	if string(call.in.Text) != "hello there" || call.in.Choice != "" || call.in.Lang != "it" || call.in.ID != "web-test-1" {
		t.Errorf("inbound = {ID:%q Text:%q Choice:%q Lang:%q}, want web-test-1, hello there, empty, it",
			call.in.ID, string(call.in.Text), call.in.Choice, call.in.Lang)
	}
	want := `{"messages":[{"kind":"say","text":"Hi!","options":[]},{"kind":"ask","text":"Pick a time","options":[{"id":"mon9","title":"Mon 9:00"},{"id":"tue14","title":"Tue 14:00"}]}]}`
	if string(body) != want {
		t.Errorf("body = %s\nwant   %s", body, want)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestChatSendsAChoiceAsChoice(t *testing.T) {
	fake := newFake()
	app := newApp(t, fake, nil)
	res, body := do(t, app, postJSON(`{"flow":"support","choice":"tue14"}`))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", res.StatusCode, body)
	}
	if c := fake.calls[0]; c.in.Choice != "tue14" || c.in.Text != "" {
		t.Errorf("inbound choice/text = %q/%q, want tue14/empty", c.in.Choice, string(c.in.Text))
	}
}

func TestKindNames(t *testing.T) {
	want := map[runtime.MessageKind]string{
		runtime.KindSay: "say", runtime.KindAsk: "ask", runtime.KindRetry: "retry", runtime.KindConsent: "consent",
		runtime.KindNotice: "notice", runtime.KindRights: "rights", runtime.KindHandoff: "handoff", 99: "unknown",
	}
	for k, w := range want {
		if got := web.KindName(k); got != w {
			t.Errorf("KindName(%d) = %q, want %q", k, got, w)
		}
	}
}

func TestChatRejectsBadRequests(t *testing.T) {
	const secret = "my-secret-text-4711"
	tests := []struct {
		name        string
		contentType string
		encoding    string
		body        string
		wantStatus  int
	}{
		{"unknown flow is not found", "application/json", "", `{"flow":"nope","text":"` + secret + `"}`, 404},
		{"missing flow", "application/json", "", `{"text":"` + secret + `"}`, 400},
		{"a user id chosen by the client", "application/json", "", `{"flow":"support","text":"` + secret + `","user":"u1"}`, 400},
		{"text of 4097 characters", "application/json", "", `{"flow":"support","text":"` + secret + strings.Repeat("é", 4097-len(secret)) + `"}`, 400},
		{"bad language", "application/json", "", `{"flow":"support","lang":"EN_gb","text":"` + secret + `"}`, 400},
		{"choice with a control character", "application/json", "", `{"flow":"support","choice":"a\u0007","text":"` + secret + `"}`, 400},
		{"unknown field", "application/json", "", `{"flow":"support","text":"` + secret + `","extra":"` + secret + `"}`, 400},
		{"not JSON", "application/json", "", `text=` + secret, 400},
		{"two JSON objects", "application/json", "", `{"flow":"support"}{"text":"` + secret + `"}`, 400},
		{"a JSON array", "application/json", "", `["` + secret + `"]`, 400},
		{"form content type", "application/x-www-form-urlencoded", "", `text=` + secret, 415},
		{"text/plain content type (cross-site form post)", "text/plain", "", `{"flow":"support","text":"` + secret + `"}`, 415},
		{"no content type", "", "", `{"flow":"support","text":"` + secret + `"}`, 415},
		{"gzip body", "application/json", "gzip", `{"flow":"support","text":"` + secret + `"}`, 415},
		{"body over the limit", "application/json", "", `{"flow":"support","text":"` + secret + strings.Repeat(`\u00e9`, 6000) + `"}`, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake()
			var logs bytes.Buffer
			app := newApp(t, fake, &logs)
			req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			res, body := do(t, app, req)
			if res.StatusCode != tc.wantStatus {
				t.Errorf("status = %d (%s), want %d", res.StatusCode, body, tc.wantStatus)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Errorf("body = %s, want {\"error\": ...}", body)
			}
			if strings.Contains(string(body), secret) || strings.Contains(logs.String(), secret) {
				t.Errorf("the user's text leaked: body %s, logs %q", body, logs.String())
			}
			if len(fake.calls) != 0 {
				t.Errorf("Chat was called for an invalid request")
			}
		})
	}
}

func TestChatAcceptsTextOfExactly4096Characters(t *testing.T) {
	fake := newFake()
	app := newApp(t, fake, nil)
	res, body := do(t, app, postJSON(`{"flow":"support","text":"`+strings.Repeat("é", 4096)+`"}`))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", res.StatusCode, body)
	}
}

func TestChatErrorIsNotEchoedOrLogged(t *testing.T) {
	const secret = "canary-answer-0042"
	fake := newFake()
	fake.err = errors.New("step failed on answer " + secret)
	var logs bytes.Buffer
	app := newApp(t, fake, &logs)
	res, body := do(t, app, postJSON(`{"flow":"support","text":"`+secret+`"}`))
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", res.StatusCode)
	}
	if string(body) != `{"error":"Internal Server Error"}` {
		t.Errorf("body = %s, want the bare status text", body)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs contain the user's text: %q", logs.String())
	}
	if !strings.Contains(logs.String(), "flow=support") {
		t.Errorf("logs = %q, want the failed flow named", logs.String())
	}
}

func TestChatUnknownFlowFromChatterIsNotFound(t *testing.T) {
	fake := newFake()
	fake.err = web.ErrUnknownFlow
	app := newApp(t, fake, nil)
	res, _ := do(t, app, postJSON(`{"flow":"support","text":"hi"}`))
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, want 404", res.StatusCode)
	}
}

func TestErrorHandlerNeverEchoesTheError(t *testing.T) {
	const secret = "+39 333 1234567"
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler, DisableStartupMessage: true})
	app.Use(fiberrecover.New())
	app.Get("/panic", func(c *fiber.Ctx) error { panic("boom " + secret) })
	app.Get("/plain", func(c *fiber.Ctx) error { return errors.New("db says " + secret) })
	app.Get("/teapot", func(c *fiber.Ctx) error { return fiber.NewError(fiber.StatusTeapot, "custom "+secret) })
	tests := []struct {
		path string
		want int
		body string
	}{
		{"/panic", 500, `{"error":"Internal Server Error"}`},
		{"/plain", 500, `{"error":"Internal Server Error"}`},
		{"/teapot", 418, `{"error":"I'm a teapot"}`},
		{"/missing", 404, `{"error":"Not Found"}`},
	}
	for _, tc := range tests {
		res, body := do(t, app, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if res.StatusCode != tc.want || string(body) != tc.body {
			t.Errorf("GET %s = %d %s, want %d %s", tc.path, res.StatusCode, body, tc.want, tc.body)
		}
		if strings.Contains(string(body), secret) {
			t.Errorf("GET %s echoed the error: %s", tc.path, body)
		}
	}
}

func TestNewErrorHandlerLogsRouteNotError(t *testing.T) {
	const secret = "canary-9981"
	var logs bytes.Buffer
	app := fiber.New(fiber.Config{
		ErrorHandler:          web.NewErrorHandler(slog.New(slog.NewTextHandler(&logs, nil))),
		DisableStartupMessage: true,
	})
	app.Get("/x/:id", func(c *fiber.Ctx) error { return errors.New("oops " + secret) })
	res, body := do(t, app, httptest.NewRequest(http.MethodGet, "/x/"+secret, nil))
	if res.StatusCode != 500 || strings.Contains(string(body), secret) {
		t.Errorf("got %d %s, want 500 without the error text", res.StatusCode, body)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs contain the error or the path: %q", logs.String())
	}
	if !strings.Contains(logs.String(), "route=/x/:id") || !strings.Contains(logs.String(), "status=500") {
		t.Errorf("logs = %q, want route pattern and status", logs.String())
	}
}

func TestRegisterUnderAGroup(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler, DisableStartupMessage: true})
	web.Register(app.Group("/chat"), web.Config{Chat: newFake()})
	for _, path := range []string{"/chat", "/chat/", "/chat/api/flows"} {
		res, _ := do(t, app, httptest.NewRequest(http.MethodGet, path, nil))
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.StatusCode)
		}
	}
}

func TestRegisterPanicsWithoutChatter(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Register with a nil Chat did not panic")
		}
	}()
	web.Register(fiber.New(), web.Config{})
}
