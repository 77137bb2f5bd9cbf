package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	testSecret  = "test-app-secret"
	testToken   = "test-access-token"
	testVerify  = "test-verify-token"
	testPNID    = "100000000000001"
	testVersion = "v25.0"
	waitLimit   = 30 * time.Second
)

// bookingScript is flows/booking.yaml's benchmark conversation: what the
// customer writes and how many replies each turn gets.
var bookingScript = []struct {
	text    string
	replies int
}{
	{"hi", 2}, {"YES", 1}, {"Ada", 1}, {"not-an-email", 1}, {"ada@example.com", 1}, {"2", 1},
}

// graphCall is one request the fake Graph API received.
type graphCall struct {
	Path   string
	Auth   string
	Body   map[string]any
	Status int // what the fake answered
}

// to is the recipient of the send request.
func (c graphCall) to() string {
	s, _ := c.Body["to"].(string)
	return s
}

// text is the visible text of a text or interactive message.
func (c graphCall) text() string {
	if t, ok := c.Body["text"].(map[string]any); ok {
		s, _ := t["body"].(string)
		return s
	}
	if i, ok := c.Body["interactive"].(map[string]any); ok {
		if b, ok := i["body"].(map[string]any); ok {
			s, _ := b["text"].(string)
			return s
		}
	}
	return ""
}

// fakeGraph is a Graph API double on a loopback httptest server. It records
// every POST /{version}/{phone-number-id}/messages. Fail, when set, may
// answer a call with an error instead (it sees the 1-based call number).
type fakeGraph struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []graphCall
	changed chan struct{} // closed and replaced on every call
	n       int
	fail    func(n int, body map[string]any) (status int, resp string)
	before  func(n int, body map[string]any) // runs before answering (may block)
}

func newFakeGraph(t testing.TB) *fakeGraph {
	g := &fakeGraph{changed: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if r.Method != http.MethodPost || json.Unmarshal(raw, &body) != nil {
		http.Error(w, `{"error":{"message":"bad request","code":100}}`, http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.n++
	n, fail, before := g.n, g.fail, g.before
	g.mu.Unlock()
	if before != nil {
		before(n, body)
	}
	status, resp := http.StatusOK, fmt.Sprintf(`{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.OUT%d"}]}`, n)
	if fail != nil {
		if st, rs := fail(n, body); st != 0 {
			status, resp = st, rs
		}
	}
	g.mu.Lock()
	g.calls = append(g.calls, graphCall{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: body, Status: status})
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, resp)
}

// delivered returns the calls the fake accepted (answered 200), in order.
func (g *fakeGraph) delivered() []graphCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []graphCall
	for _, c := range g.calls {
		if c.Status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

func (g *fakeGraph) all() []graphCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphCall(nil), g.calls...)
}

// deliveredTo returns the accepted calls for one recipient.
func (g *fakeGraph) deliveredTo(to string) []graphCall {
	var out []graphCall
	for _, c := range g.delivered() {
		if c.to() == to {
			out = append(out, c)
		}
	}
	return out
}

// waitFor blocks until cond holds (checked after every call) or the limit.
func (g *fakeGraph) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		ch := g.changed
		g.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("fake Graph API: gave up waiting for %s after %s (%d calls so far)", what, waitLimit, len(g.all()))
		}
	}
}

// waitDelivered waits until to has been sent at least n messages.
func (g *fakeGraph) waitDelivered(t testing.TB, to string, n int) {
	t.Helper()
	g.waitFor(t, fmt.Sprintf("%d replies", n), func() bool { return len(g.deliveredTo(to)) >= n })
}

// lockedBuffer is an io.Writer safe for a slog handler used concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a server with the WhatsApp channel, an encrypted on-disk vault and
// a fake Graph API.
type env struct {
	srv      *server.Server
	vault    *vault.Vault
	graph    *fakeGraph
	flowsDir string
	dataDir  string
	backend  backend
	stopped  bool
	visitors map[string]string // webTurn's visitor name -> session cookie
}

type envOptions struct {
	logger   *slog.Logger
	webChat  bool
	tokens   string // admin tokens, "role:token,…"
	noStart  bool
	attempts int
	// graph hooks, installed before the server starts
	fail   func(n int, body map[string]any) (int, string)
	before func(n int, body map[string]any)
	// flowExtra is YAML appended to the served copy of flows/booking.yaml.
	flowExtra string
	// now is the server's clock (default time.Now).
	now func() time.Time
	// maxAge is WhatsAppConfig.MaxAge (default 24h).
	maxAge time.Duration
	// files are more flow files (name -> YAML) served beside booking.yaml.
	files map[string]string
	// waFlow is the WhatsApp channel's flow (default booking).
	waFlow string
	// caller, when set, performs integration calls and delivers notices.
	caller *server.HTTPCaller
	// workers, queue and senders size the host's pools (defaults when 0).
	workers, queue, senders int
	// retry replaces fastRetry.
	retry func(err error, attempt int) (time.Duration, bool)
	// store wraps the session store the server uses (to inject failures).
	store func(*session.Store) server.Backend
	// canWrite is server.Config.CanWrite.
	canWrite func() error
	// drain is server.Config.Drain.
	drain time.Duration
	// studio enables the authoring studio.
	studio *server.StudioConfig
	// backend names the vault's backend (see backendNames; default
	// badger, on dataDir).
	backend string
	// handoffEvery is server.Config.HandoffEvery (default: off, tests call
	// ExpireHandoffs).
	handoffEvery time.Duration
	// staff, when set, makes server.Config.Staff on the env's vault.
	staff func(*vault.Vault) *admin.Staff
}

// fastRetry keeps whatsapp.RetryDelay's decision but waits 1 ms.
func fastRetry(err error, attempt int) (time.Duration, bool) {
	_, retry := whatsapp.RetryDelay(err, attempt, func() float64 { return 0 })
	return time.Millisecond, retry
}

var masterKey = bytes.Repeat([]byte{0x42}, 32)

func copyBookingFlow(t testing.TB) string { return copyBookingFlowWith(t, "") }

// copyBookingFlowWith copies flows/booking.yaml into a temporary flows
// directory, with extra appended to it.
func copyBookingFlowWith(t testing.TB, extra string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "flows")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../flows/booking.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "booking.yaml"), append(b, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{graph: newFakeGraph(t), flowsDir: copyBookingFlowWith(t, o.flowExtra), dataDir: t.TempDir()}
	if o.handoffEvery == 0 {
		o.handoffEvery = -1
	}
	e.graph.fail, e.graph.before = o.fail, o.before
	for name, src := range o.files {
		if err := os.WriteFile(filepath.Join(e.flowsDir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waFlow := "booking"
	if o.waFlow != "" {
		waFlow = o.waFlow
	}
	flows, report, err := server.LoadFlows(e.flowsDir)
	if err != nil {
		t.Fatalf("LoadFlows: %v\n%s", err, report)
	}
	e.backend = newBackend(t, o.backend, e.dataDir)
	e.vault = e.backend.open(t, vault.Options{MasterKey: masterKey, Logger: o.logger, Now: o.now})
	t.Cleanup(func() { e.vault.Close() })
	var store server.Backend = session.New(e.vault)
	if o.store != nil {
		store = o.store(session.New(e.vault))
	}
	retry := fastRetry
	if o.retry != nil {
		retry = o.retry
	}
	cfg := server.Config{
		Store: store, Flows: flows, Logger: o.logger, SweepEvery: -1, HandoffEvery: o.handoffEvery, WebChat: o.webChat, Now: o.now,
		Workers: o.workers, QueueDepth: o.queue, CanWrite: o.canWrite, Studio: o.studio, Drain: o.drain,
		WhatsApp: &server.WhatsAppConfig{
			AppSecret: testSecret, AccessToken: testToken, VerifyToken: testVerify, PhoneNumberID: testPNID,
			Flow: waFlow, GraphURL: e.graph.URL, APIVersion: testVersion, MaxAttempts: o.attempts,
			RetryDelay: retry, MaxAge: o.maxAge, Senders: o.senders,
		},
	}
	if o.caller != nil {
		cfg.Caller, cfg.Notices = o.caller, o.caller
	}
	if o.tokens != "" {
		cfg.AdminTokens, err = admin.ParseTokenList(o.tokens)
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.staff != nil {
		cfg.Staff = o.staff(e.vault)
	}
	e.srv, err = server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !o.noStart {
		e.start(t)
	}
	t.Cleanup(func() { e.shutdown(t) })
	return e
}

func (e *env) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := e.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// shutdown stops the server once, flushing the outbox.
func (e *env) shutdown(t testing.TB) {
	t.Helper()
	if e.stopped {
		return
	}
	e.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// listen serves the app on a loopback port and returns its base URL.
func (e *env) listen(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.Serve(ln)
	return "http://" + ln.Addr().String()
}

// textWebhook is a text-message delivery to the test number.
func textWebhook(from, id, text string, at time.Time) []byte {
	return whatsapptest.TextWebhook(testPNID, from, id, text, at)
}

// statusWebhook is a status callback; code, when not zero, is its error.
func statusWebhook(wamid, status, recipient string, code int) []byte {
	return whatsapptest.StatusWebhook(testPNID, wamid, status, recipient, code, time.Now())
}

func webhookRequest(body []byte, sign bool) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhook/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sign {
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(testSecret), body))
	}
	return req
}

// post delivers a signed webhook through app.Test and returns the status.
func (e *env) post(t testing.TB, body []byte) int {
	t.Helper()
	return e.do(t, webhookRequest(body, true))
}

func (e *env) do(t testing.TB, req *http.Request) int {
	t.Helper()
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// get returns the status and body of a GET through app.Test.
func (e *env) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := e.srv.App().Test(httptest.NewRequest(http.MethodGet, path, nil), -1)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// converse runs the booking conversation for one user, checking the number
// of replies of each turn at the fake Graph API. It returns the replies
// received per turn. ids prefixes the inbound message ids.
func (e *env) converse(t testing.TB, user, name, email string) [][]graphCall {
	t.Helper()
	var perTurn [][]graphCall
	want := 0
	for i, turn := range bookingScript {
		text := turn.text
		switch text {
		case "Ada":
			text = name
		case "ada@example.com":
			text = email
		}
		before := len(e.graph.deliveredTo(user))
		if st := e.post(t, textWebhook(user, fmt.Sprintf("wamid.IN.%s.%d", user, i), text, time.Now())); st != http.StatusOK {
			t.Fatalf("turn %d: webhook answered %d, want 200", i+1, st)
		}
		want += turn.replies
		e.graph.waitDelivered(t, user, want)
		got := e.graph.deliveredTo(user)
		perTurn = append(perTurn, got[before:])
	}
	return perTurn
}

// metric returns the value of one sample line of /metrics, or "".
func metricValue(body, sample string) string {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

func (e *env) metric(t testing.TB, sample string) string {
	t.Helper()
	_, body := e.get(t, "/metrics")
	return metricValue(body, sample)
}

func (e *env) stats(t testing.TB) vault.Stats {
	t.Helper()
	st, err := e.vault.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// webTurn sends one web chat message of a flow as the named visitor and
// returns the reply texts. Each visitor keeps the session cookie the server
// issued it, as a browser would.
func (e *env) webTurn(t *testing.T, flow, visitor, text string) []string {
	t.Helper()
	if e.visitors == nil {
		e.visitors = map[string]string{}
	}
	r := e.webChat(t, e.visitors[visitor], text, map[string]string{"flow": flow})
	if r.status != 200 {
		t.Fatalf("web chat %q: status %d", flow, r.status)
	}
	if r.cookie != "" {
		e.visitors[visitor] = r.cookie
	}
	return r.texts
}

// visitorID is the id the server chose for the named visitor of webTurn.
func (e *env) visitorID(visitor string) string {
	id, _, _ := strings.Cut(e.visitors[visitor], ".")
	return id
}

// noFileHolds fails the test for every file below dir that holds one of
// the values as is (not sealed).
func noFileHolds(t *testing.T, dir string, values ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds %q in the clear", filepath.Base(path), v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
