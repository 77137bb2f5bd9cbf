package whatsapp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

const testToken = "EAAG-canary-token"

type recorded struct {
	Method, Path, Auth, ContentType string
	Body                            []byte
}

// fakeGraph is a Graph API stand-in on loopback that records every request
// and answers with the next scripted reply.
type fakeGraph struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	replies []func(w http.ResponseWriter, r *http.Request)
}

func newFakeGraph(t *testing.T, replies ...func(w http.ResponseWriter, r *http.Request)) *fakeGraph {
	f := &fakeGraph{t: t, replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
		var reply func(http.ResponseWriter, *http.Request)
		if len(f.replies) > 0 {
			reply, f.replies = f.replies[0], f.replies[1:]
		}
		f.mu.Unlock()
		if reply == nil {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		reply(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) client() *Client {
	return &Client{BaseURL: f.srv.URL, APIVersion: "v25.0", PhoneNumberID: "100000000000001", AccessToken: testToken, HTTP: f.srv.Client()}
}

func (f *fakeGraph) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func replyFile(t *testing.T, status int, file string, header ...string) func(http.ResponseWriter, *http.Request) {
	body := readTestdata(t, file)
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

func replyBody(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func textRequestFor(t *testing.T) SendRequest {
	t.Helper()
	reqs := Render("15550001234", "en", runtime.Message{Text: "canary message text"})
	if len(reqs) != 1 {
		t.Fatalf("Render gave %d requests", len(reqs))
	}
	return reqs[0]
}

func TestClientSendSuccess(t *testing.T) {
	f := newFakeGraph(t, replyFile(t, 200, "send-response-success.json"))
	req := textRequestFor(t)
	wamid, err := f.client().Send(t.Context(), req)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if want := "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwMQA="; wamid != want {
		t.Errorf("wamid = %q, want %q", wamid, want)
	}
	rs := f.requests()
	if len(rs) != 1 {
		t.Fatalf("%d requests, want 1", len(rs))
	}
	r := rs[0]
	if r.Method != "POST" || r.Path != "/v25.0/100000000000001/messages" {
		t.Errorf("request = %s %s, want POST /v25.0/100000000000001/messages", r.Method, r.Path)
	}
	if r.Auth != "Bearer "+testToken {
		t.Errorf("Authorization = %q, want the bearer token", r.Auth)
	}
	if r.ContentType != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", r.ContentType)
	}
	want, _ := encodeJSON(req)
	if string(r.Body) != string(want) {
		t.Errorf("body = %s, want %s", r.Body, want)
	}
}

func TestClientDefaults(t *testing.T) {
	c := &Client{PhoneNumberID: "123"}
	if got, want := c.cachedEndpoint().url, "https://graph.facebook.com/"+DefaultAPIVersion+"/123/messages"; got != want {
		t.Errorf("endpoint = %q, want %q", got, want)
	}
	c = &Client{BaseURL: "http://127.0.0.1:1/", APIVersion: "v23.0", PhoneNumberID: "123"}
	if got, want := c.cachedEndpoint().url, "http://127.0.0.1:1/v23.0/123/messages"; got != want {
		t.Errorf("endpoint = %q, want %q", got, want)
	}
	if _, err := (&Client{BaseURL: "http://127.0.0.1:1"}).Send(t.Context(), SendRequest{}); err == nil {
		t.Error("Send without phone number id and token: no error, want one")
	}
}

func TestClientSendErrors(t *testing.T) {
	tests := []struct {
		name          string
		reply         func(http.ResponseWriter, *http.Request)
		status, code  int
		retryable     bool
		outsideWindow bool
		pairLimited   bool
		retryAfter    time.Duration
		trace         string
	}{
		{"rate limit 429/130429 with Retry-After", replyFile(t, 429, "send-error-rate-limit.json", "Retry-After", "7"), 429, 130429, true, false, false, 7 * time.Second, "AFakeTraceId000000000001"},
		{"rate limit as HTTP 400", replyFile(t, 400, "send-error-rate-limit.json"), 400, 130429, true, false, false, 0, "AFakeTraceId000000000001"},
		{"outside the window 131047", replyFile(t, 400, "send-error-outside-window.json"), 400, 131047, false, true, false, 0, "AFakeTraceId000000000002"},
		{"pair rate limit 131056", replyBody(400, `{"error":{"message":"(#131056) Pair rate limit hit","code":131056,"fbtrace_id":"T"}}`), 400, 131056, true, false, true, 0, "T"},
		{"app rate limit 4", replyBody(400, `{"error":{"message":"(#4) Application request limit reached","code":4}}`), 400, 4, true, false, false, 0, ""},
		{"waba rate limit 80007", replyBody(400, `{"error":{"code":80007}}`), 400, 80007, true, false, false, 0, ""},
		{"500 without a Graph error", replyBody(500, "<html>oops</html>"), 500, 0, true, false, false, 0, ""},
		{"503 service unavailable 131016", replyBody(503, `{"error":{"code":131016}}`), 503, 131016, true, false, false, 0, ""},
		{"500 with a permanent code 3", replyBody(500, `{"error":{"code":3}}`), 500, 3, false, false, false, 0, ""},
		{"invalid parameter 100", replyBody(400, `{"error":{"message":"(#100) Invalid parameter","code":100}}`), 400, 100, false, false, false, 0, ""},
		{"expired token 190", replyBody(401, `{"error":{"code":190}}`), 401, 190, false, false, false, 0, ""},
		{"auth exception code 0", replyBody(401, `{"error":{"code":0}}`), 401, 0, false, false, false, 0, ""},
		{"unknown code on 429", replyBody(429, `{"error":{"code":999999}}`), 429, 999999, true, false, false, 0, ""},
		{"unknown code on 400", replyBody(400, `{"error":{"code":999999}}`), 400, 999999, false, false, false, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, tc.reply)
			_, err := f.client().Send(t.Context(), textRequestFor(t))
			var e *APIError
			if !errors.As(err, &e) {
				t.Fatalf("Send error = %v, want *APIError", err)
			}
			if e.HTTPStatus != tc.status || e.Code != tc.code || e.Retryable() != tc.retryable ||
				e.OutsideWindow() != tc.outsideWindow || e.PairRateLimited() != tc.pairLimited || e.RetryAfter != tc.retryAfter || e.FBTraceID != tc.trace {
				t.Errorf("got status %d code %d retryable %v outside %v pair %v retry-after %v trace %q\nwant status %d code %d retryable %v outside %v pair %v retry-after %v trace %q",
					e.HTTPStatus, e.Code, e.Retryable(), e.OutsideWindow(), e.PairRateLimited(), e.RetryAfter, e.FBTraceID,
					tc.status, tc.code, tc.retryable, tc.outsideWindow, tc.pairLimited, tc.retryAfter, tc.trace)
			}
			if IsRetryable(err) != tc.retryable || IsOutsideWindow(err) != tc.outsideWindow {
				t.Errorf("IsRetryable/IsOutsideWindow = %v/%v, want %v/%v", IsRetryable(err), IsOutsideWindow(err), tc.retryable, tc.outsideWindow)
			}
			if e.Uncertain() {
				t.Error("an answered request is Uncertain, want certain")
			}
			assertErrorIsClean(t, err)
		})
	}
}

// assertErrorIsClean checks the error text for the token, the recipient and
// the message text.
func assertErrorIsClean(t *testing.T, err error) {
	t.Helper()
	for _, canary := range []string{testToken, "15550001234", "canary message"} {
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error %q contains %q", err, canary)
		}
	}
}

func TestClientErrorMentionsCodeAndTrace(t *testing.T) {
	f := newFakeGraph(t, replyFile(t, 400, "send-error-outside-window.json"))
	_, err := f.client().Send(t.Context(), textRequestFor(t))
	want := "whatsapp: graph api: http 400, code 131047: (#131047) Re-engagement message (fbtrace_id AFakeTraceId000000000002)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestClientTimeoutIsRetryableAndUncertain(t *testing.T) {
	release := make(chan struct{})
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := f.client()
	hc := *f.srv.Client()
	hc.Timeout = 50 * time.Millisecond
	c.HTTP = &hc
	_, err := c.Send(t.Context(), textRequestFor(t))
	var e *APIError
	if !errors.As(err, &e) {
		t.Fatalf("Send error = %v, want *APIError", err)
	}
	if !e.Retryable() || !e.Uncertain() || e.HTTPStatus != 0 {
		t.Errorf("timeout: retryable %v uncertain %v status %d; want true, true, 0", e.Retryable(), e.Uncertain(), e.HTTPStatus)
	}
	assertErrorIsClean(t, err)
}

func TestClientCanceledContextIsNotRetryable(t *testing.T) {
	f := newFakeGraph(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.client().Send(ctx, textRequestFor(t))
	var e *APIError
	if !errors.As(err, &e) || e.Retryable() || !errors.Is(err, context.Canceled) {
		t.Errorf("Send(canceled) = %v, want a non-retryable APIError wrapping context.Canceled", err)
	}
}

func TestClientConnectionRefusedIsRetryableAndCertain(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &Client{BaseURL: "http://" + addr, PhoneNumberID: "1", AccessToken: testToken}
	_, err = c.Send(t.Context(), textRequestFor(t))
	var e *APIError
	if !errors.As(err, &e) || !e.Retryable() || e.Uncertain() {
		t.Fatalf("Send(refused) = %v, want retryable and certain", err)
	}
	assertErrorIsClean(t, err)
}

func TestClientSuccessWithoutMessageID(t *testing.T) {
	f := newFakeGraph(t, replyBody(200, `{"messaging_product":"whatsapp","messages":[]}`))
	if _, err := f.client().Send(t.Context(), textRequestFor(t)); err == nil {
		t.Error("Send with an empty messages array: no error, want one")
	}
}

func TestClientMarkReadAndTyping(t *testing.T) {
	ok := replyBody(200, `{"success":true}`)
	f := newFakeGraph(t, ok, ok, replyBody(200, `{"success":false}`))
	c := f.client()
	if err := c.MarkRead(t.Context(), "wamid.IN1"); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}
	if err := c.ShowTyping(t.Context(), "wamid.IN2"); err != nil {
		t.Fatalf("ShowTyping: %v", err)
	}
	if err := c.MarkRead(t.Context(), "wamid.IN3"); err == nil {
		t.Error("MarkRead with success=false: no error, want one")
	}
	rs := f.requests()
	if len(rs) != 3 {
		t.Fatalf("%d requests, want 3", len(rs))
	}
	want := []string{
		`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1"}`,
		`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN2","typing_indicator":{"type":"text"}}`,
	}
	for i, w := range want {
		if string(rs[i].Body) != w || rs[i].Path != "/v25.0/100000000000001/messages" || rs[i].Auth != "Bearer "+testToken {
			t.Errorf("request %d = %s %s, want %s on /v25.0/100000000000001/messages", i, rs[i].Path, rs[i].Body, w)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"30", 30 * time.Second}, {" 5 ", 5 * time.Second}, {"-1", 0}, {"soon", 0},
		{"Thu, 01 Jan 2026 10:01:00 GMT", time.Minute}, {"Thu, 01 Jan 2026 09:00:00 GMT", 0},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestClientFollowsNoRedirect: a Graph API answer redirecting elsewhere
// fails the send; the reply and the access token never reach the other
// address, whatever client the caller configured (here one without a
// redirect policy of its own).
func TestClientFollowsNoRedirect(t *testing.T) {
	elsewhere := newFakeGraph(t, replyFile(t, 200, "send-response-success.json"))
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	c := f.client()
	c.HTTP = &http.Client{} // no CheckRedirect: the client must still refuse
	if _, err := c.Send(t.Context(), textRequestFor(t)); err == nil {
		t.Error("Send through a 307 succeeded; want an error")
	}
	if got := elsewhere.requests(); len(got) != 0 {
		t.Errorf("the redirect target got %d requests (token %q); want none", len(got), got[0].Auth)
	}
}
