package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/studio"
	"github.com/parleyhq/parley/engine/vault"
)

// studioClient talks to the studio API of a server listening on loopback.
type studioClient struct {
	t    *testing.T
	base string
	host string // Host header to send, when not the listener's
	// header holds more headers to send (a proxy's, a browser's).
	header http.Header
}

func (c studioClient) call(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/studio/api"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.host != "" {
		req.Host = c.host
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s answered %d with %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type studioReply struct {
	Messages []struct {
		Text    string `json:"text"`
		Options []struct{ ID, Title string }
	} `json:"messages"`
	Step   string `json:"step"`
	Status string `json:"status"`
}

type studioHeld struct {
	Fields []struct {
		Field, Value, Purpose string
		ExpiresAt             string `json:"expires_at"`
	} `json:"fields"`
	Consents []struct{ Purpose, Decision string } `json:"consents"`
	Swept    int                                  `json:"swept"`
	Now      time.Time                            `json:"now"`
}

// studioChecked is the studio's answer to a lint or a save.
type studioChecked struct {
	Saved       bool `json:"saved"`
	Errors      int  `json:"errors"`
	Diagnostics []struct {
		Line, Col     int
		Rule, Message string
	} `json:"diagnostics"`
}

func (c studioClient) session() string {
	c.t.Helper()
	var s struct{ Session string }
	if st := c.call("POST", "/session", struct{}{}, &s); st != http.StatusOK || s.Session == "" {
		c.t.Fatalf("POST /session = %d %+v", st, s)
	}
	return s.Session
}

func (c studioClient) say(session, flow, text, choice string) studioReply {
	c.t.Helper()
	var r studioReply
	if st := c.call("POST", "/chat", map[string]string{"session": session, "flow": flow, "text": text, "choice": choice}, &r); st != http.StatusOK {
		c.t.Fatalf("chat %q: status %d", text, st)
	}
	return r
}

// book runs flows/booking.yaml as a studio test user with the given name
// and email and returns the steps waiting after each turn.
func (c studioClient) book(session, name, email string) []string {
	c.t.Helper()
	var steps []string
	for _, in := range []struct{ text, choice string }{{"", ""}, {"", "yes"}, {name, ""}, {"not-an-email", ""}, {email, ""}, {"2", ""}} {
		steps = append(steps, c.say(session, "booking", in.text, in.choice).Step)
	}
	return steps
}

// TestStudioClockJumpSweepsOnlyTheTestUser: a studio test user books, its
// clock jumps past the 30-day retention, and the sweep deletes its fields
// from the files (an attacker with the data directory and the master key
// no longer reads them), while a WhatsApp customer who booked at the same
// time keeps theirs: the jump moved the test user's clock only.
func TestStudioClockJumpSweepsOnlyTheTestUser(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, envOptions{now: clock, studio: &server.StudioConfig{}})
	c := studioClient{t: t, base: e.listen(t)}
	const (
		studioName, studioEmail     = "Zelinda-Studio-Canary", "zelinda.canary@studio.example"
		customerName, customerEmail = "Ottavio-Customer-Canary", "ottavio.canary@customer.example"
	)
	e.converse(t, "15550004242", customerName, customerEmail)
	s := c.session()
	steps := c.book(s, studioName, studioEmail)
	if want := []string{"ask_name", "ask_name", "ask_email", "ask_email", "pick_date", ""}; strings.Join(steps, ",") != strings.Join(want, ",") {
		t.Errorf("steps waiting after each turn = %q, want %q", steps, want)
	}
	var h studioHeld
	if st := c.call("POST", "/held", map[string]string{"session": s}, &h); st != http.StatusOK {
		t.Fatalf("held: %d", st)
	}
	got := map[string]string{}
	for _, f := range h.Fields {
		got[f.Field] = f.Value + " until " + f.ExpiresAt
	}
	if want := studioEmail + " until " + now.Add(30*24*time.Hour).Format(time.RFC3339); got["email"] != want {
		t.Errorf("held email = %q, want %q (all: %v)", got["email"], want, got)
	}

	// One day on: nothing has expired yet.
	if st := c.call("POST", "/clock", map[string]string{"session": s, "advance": "1d"}, &h); st != http.StatusOK || h.Swept != 0 || len(h.Fields) != 3 {
		t.Fatalf("after +1d: status %d, swept %d, fields %d; want 200, 0, 3", st, h.Swept, len(h.Fields))
	}
	if st := c.call("POST", "/clock", map[string]string{"session": s, "advance": "30d"}, &h); st != http.StatusOK || h.Swept != 3 || len(h.Fields) != 0 {
		t.Fatalf("after +31d: status %d, swept %d, fields %v; want 200, 3, none", st, h.Swept, h.Fields)
	}
	if want := now.Add(31 * 24 * time.Hour); !h.Now.Equal(want) {
		t.Errorf("test user's clock = %v, want %v", h.Now, want)
	}
	r := attackAfterStop(t, e)
	for _, v := range []string{studioName, studioEmail} {
		if r.Contains([]byte(v)) {
			t.Errorf("after the studio's jump and sweep the attacker still reads the test user's %q", v)
		}
	}
	// Control: the customer's data is not due for 29 more days.
	if !r.Contains([]byte(customerEmail)) {
		t.Error("the studio's sweep deleted a customer's email before it was due")
	}
}

// TestStudioSaveWritesOnlyCleanFlows: a save with a lint error writes
// nothing and says where the error is; a clean save replaces the file
// atomically (no temporary file left) and the served flows reload, so the
// next conversation says the new text.
func TestStudioSaveWritesOnlyCleanFlows(t *testing.T) {
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}})
	c := studioClient{t: t, base: e.listen(t)}
	path := filepath.Join(e.flowsDir, "booking.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const greeting = "Hi! I'm Smile Dental's booking assistant."
	if !bytes.Contains(orig, []byte(greeting)) || !bytes.Contains(orig, []byte("    save: email")) {
		t.Fatal("flows/booking.yaml changed: this test edits its greeting and the save: email key")
	}
	broken := strings.Replace(string(orig), "    save: email", "    saev: email", 1)
	wantLine := strings.Count(broken[:strings.Index(broken, "    saev: email")], "\n") + 1

	type checked = studioChecked
	var ck checked
	if st := c.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": broken}, &ck); st != http.StatusUnprocessableEntity || ck.Saved {
		t.Fatalf("saving a broken flow: status %d saved %v, want 422 and not saved", st, ck.Saved)
	}
	found := false
	for _, d := range ck.Diagnostics {
		if d.Line == wantLine && d.Col == 5 && d.Rule == "PARLEY-101" {
			found = true
		}
	}
	if !found {
		t.Errorf("diagnostics %+v lack PARLEY-101 at %d:5", ck.Diagnostics, wantLine)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
		t.Fatal("a flow with errors was written")
	}

	edited := strings.Replace(string(orig), greeting, "Welcome to the edited studio flow.", 1)
	ck = checked{}
	if st := c.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": edited}, &ck); st != http.StatusOK || !ck.Saved || ck.Errors != 0 {
		t.Fatalf("saving a clean flow: status %d %+v, want 200 and saved", st, ck)
	}
	if b, _ := os.ReadFile(path); string(b) != edited {
		t.Error("the clean flow was not written")
	}
	entries, _ := os.ReadDir(e.flowsDir)
	for _, en := range entries {
		if en.Name() != "booking.yaml" {
			t.Errorf("the save left %s in the flow directory", en.Name())
		}
	}
	r := c.say(c.session(), "booking", "", "")
	if len(r.Messages) == 0 || r.Messages[0].Text != "Welcome to the edited studio flow." {
		t.Errorf("after the save the flow opens with %+v, want the edited greeting", r.Messages)
	}
	// A name outside the flow directory is not a file the studio knows.
	if st := c.call("POST", "/save", map[string]string{"file": "../escape.yaml", "source": edited}, nil); st != http.StatusNotFound {
		t.Errorf("saving ../escape.yaml: status %d, want 404", st)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.flowsDir), "escape.yaml")); err == nil {
		t.Error("the studio wrote outside the flow directory")
	}
}

// TestStudioEraseRemovesTheTestUser: erasing the test user leaves nothing
// held, as the erasure right does, and the erasure is dated at the real
// time even after the test user's clock moved a year on (the ledger dates
// every later erasure no earlier than the last one).
func TestStudioEraseRemovesTheTestUser(t *testing.T) {
	real := time.Now().UTC().Truncate(time.Second)
	e := newEnv(t, envOptions{now: func() time.Time { return real }, studio: &server.StudioConfig{}, tokens: "dpo:studio-dpo-token"})
	c := studioClient{t: t, base: e.listen(t)}
	s := c.session()
	c.book(s, "Erasmo-Canary", "erasmo@studio.example")
	var h studioHeld
	c.call("POST", "/held", map[string]string{"session": s}, &h)
	if len(h.Fields) != 3 || len(h.Consents) != 1 {
		t.Fatalf("before erasure: %d fields, %d consents; want 3 and 1", len(h.Fields), len(h.Consents))
	}
	if st := c.call("POST", "/clock", map[string]string{"session": s, "advance": "365d"}, &h); st != http.StatusOK {
		t.Fatalf("clock: %d", st)
	}
	if st := c.call("POST", "/erase", map[string]string{"session": s}, &h); st != http.StatusOK || len(h.Fields)+len(h.Consents) != 0 {
		t.Fatalf("erase: status %d, still held %+v", st, h)
	}
	// A customer erased afterwards through the admin API gets today's date.
	e.converse(t, "15550004343", "Cliente", "cliente@customer.example")
	req := httptest.NewRequest(http.MethodPost, "/admin/v1/subjects/erase", strings.NewReader(`{"channel":"whatsapp","user":"15550004343"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer studio-dpo-token")
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	var receipt struct {
		ErasedAt time.Time `json:"erased_at"`
	}
	json.NewDecoder(resp.Body).Decode(&receipt)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !receipt.ErasedAt.Equal(real) {
		t.Errorf("customer erasure after the studio's: status %d, dated %v, want %v", resp.StatusCode, receipt.ErasedAt, real)
	}
	r := attackAfterStop(t, e)
	if r.Contains([]byte("erasmo@studio.example")) {
		t.Error("after erasure the attacker still reads the test user's email")
	}
}

// TestStudioOnlyOnThisMachine: other machines are refused, and so is a
// loopback connection under a foreign host name (DNS rebinding); with
// Remote, the API takes an admin token of role admin and nothing less.
func TestStudioOnlyOnThisMachine(t *testing.T) {
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}})
	// app.Test connects from 0.0.0.0: not this machine.
	if st, body := e.get(t, "/studio/"); st != http.StatusForbidden || !strings.Contains(body, "--studio-remote") {
		t.Errorf("GET /studio/ from elsewhere = %d %q, want 403 naming --studio-remote", st, body)
	}
	if st, _ := e.get(t, "/studio/api/files"); st != http.StatusForbidden {
		t.Errorf("GET /studio/api/files from elsewhere = %d, want 403", st)
	}
	base := e.listen(t)
	c := studioClient{t: t, base: base}
	if st := c.call("GET", "/files", nil, nil); st != http.StatusOK {
		t.Errorf("GET /studio/api/files on loopback = %d, want 200", st)
	}
	c.host = "studio.attacker.example"
	if st := c.call("GET", "/files", nil, nil); st != http.StatusForbidden {
		t.Errorf("GET /studio/api/files on loopback with Host %s = %d, want 403", c.host, st)
	}
	c.host = ""
	// A form post from another site cannot be JSON without a preflight.
	resp, err := http.Post(base+"/studio/api/save", "text/plain", strings.NewReader(`{"file":"booking.yaml","source":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain save = %d, want 415", resp.StatusCode)
	}

	remote := newEnv(t, envOptions{studio: &server.StudioConfig{Remote: true}, tokens: "admin:studio-admin-token,dpo:studio-dpo-token"})
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"wrong-token", http.StatusUnauthorized}, {"studio-dpo-token", http.StatusForbidden}, {"studio-admin-token", http.StatusOK}} {
		req := httptest.NewRequest(http.MethodGet, "/studio/api/files", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		if st := remote.do(t, req); st != tc.want {
			t.Errorf("remote GET /studio/api/files with token %q = %d, want %d", tc.token, st, tc.want)
		}
	}
	if st, _ := remote.get(t, "/studio/"); st != http.StatusOK {
		t.Errorf("remote GET /studio/ (the page, no data) = %d, want 200", st)
	}
}

// TestStudioBehindAProxyIsNotLocal: a reverse proxy on this machine
// connects from loopback, and many send the upstream's own address as the
// Host (nginx's proxy_pass does), so without more every request it
// forwards from the internet would look local and reach the studio with no
// login, even under --studio-remote. A request that carries a proxy's
// forwarding header is not local: refused by default, and under Remote it
// needs the admin token like any other remote request.
func TestStudioBehindAProxyIsNotLocal(t *testing.T) {
	forwarded := []http.Header{
		{"X-Forwarded-For": {"203.0.113.9"}},
		{"Forwarded": {"for=203.0.113.9;proto=https"}},
		{"X-Real-Ip": {"203.0.113.9"}},
		{"X-Forwarded-Host": {"studio.example.com"}},
		{"Via": {"1.1 proxy.example"}},
	}
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}})
	base := e.listen(t)
	for _, h := range forwarded {
		c := studioClient{t: t, base: base, host: "127.0.0.1:8080", header: h}
		if st := c.call("GET", "/files", nil, nil); st != http.StatusForbidden {
			t.Errorf("GET /studio/api/files through a proxy (%v) = %d, want 403", h, st)
		}
		if st := c.call("POST", "/session", struct{}{}, nil); st != http.StatusForbidden {
			t.Errorf("POST /studio/api/session through a proxy (%v) = %d, want 403", h, st)
		}
	}

	remote := newEnv(t, envOptions{studio: &server.StudioConfig{Remote: true}, tokens: "admin:studio-admin-token"})
	rbase := remote.listen(t)
	// One request without a token (more would trip the admin API's lockout).
	c := studioClient{t: t, base: rbase, host: "127.0.0.1:8080", header: forwarded[0]}
	if st := c.call("GET", "/files", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("remote studio, GET /files through a proxy without a token = %d, want 401", st)
	}
	for _, h := range forwarded {
		c := studioClient{t: t, base: rbase, host: "127.0.0.1:8080", header: h.Clone()}
		c.header.Set("Authorization", "Bearer studio-admin-token")
		if st := c.call("GET", "/files", nil, nil); st != http.StatusOK {
			t.Errorf("remote studio, GET /files through a proxy (%v) with the admin token = %d, want 200", h, st)
		}
	}
}

// TestStudioRefusesOtherSitesRequests: a browser says which site a request
// comes from (Sec-Fetch-Site); the studio's own page sends same-origin, so a
// request another page made (another site, or another port of this machine)
// is refused before it does anything, JSON or not. Tools that send no such
// header (curl) still work.
func TestStudioRefusesOtherSitesRequests(t *testing.T) {
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}})
	base := e.listen(t)
	path := filepath.Join(e.flowsDir, "booking.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), "Hi! I'm Smile Dental's booking assistant.", "Edited by another site.", 1)
	for _, site := range []string{"cross-site", "same-site"} {
		c := studioClient{t: t, base: base, header: http.Header{"Sec-Fetch-Site": {site}, "Origin": {"http://localhost:9999"}}}
		if st := c.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": edited}, nil); st != http.StatusForbidden {
			t.Errorf("save from a %s page = %d, want 403", site, st)
		}
		if st := c.call("POST", "/session", struct{}{}, nil); st != http.StatusForbidden {
			t.Errorf("new test user from a %s page = %d, want 403", site, st)
		}
		if st := c.call("GET", "/file?name=booking.yaml", nil, nil); st != http.StatusForbidden {
			t.Errorf("reading the flow from a %s page = %d, want 403", site, st)
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
		t.Fatal("another site's request changed the flow file")
	}
	own := studioClient{t: t, base: base, header: http.Header{"Sec-Fetch-Site": {"same-origin"}}}
	if st := own.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": edited}, nil); st != http.StatusOK {
		t.Errorf("save from the studio's own page = %d, want 200", st)
	}
	if st := (studioClient{t: t, base: base}).call("GET", "/files", nil, nil); st != http.StatusOK {
		t.Errorf("a client that sends no Sec-Fetch-Site = %d, want 200", st)
	}
}

// attackAfterStop stops the server, closes the vault and reads its data
// directory as an attacker holding the master key.
func attackAfterStop(t *testing.T, e *env) *vault.Recovered {
	t.Helper()
	e.shutdown(t)
	if err := e.vault.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := vault.AttackerView(e.dataDir, masterKey)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestStudioRefusesHostileFlows: what an attacker (or a careless paste)
// sends to the studio's save route is refused with the reason, and the
// flow file stays as it was: a billion-laughs alias bomb (aliases are not
// YAML the flow language takes), a flow over the 1 MiB the flow loader takes (and a body far over it),
// and a flow with a secret written in it, whose value appears neither in
// the answer nor in the server log.
func TestStudioRefusesHostileFlows(t *testing.T) {
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}, logger: logger})
	c := studioClient{t: t, base: e.listen(t)}
	path := filepath.Join(e.flowsDir, "booking.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type checked = studioChecked
	rules := func(ck checked) string {
		var out []string
		for _, d := range ck.Diagnostics {
			out = append(out, d.Rule)
		}
		return strings.Join(out, " ")
	}

	// Nine levels of nine aliases: 387 million strings if expanded.
	var bomb strings.Builder
	bomb.WriteString(string(orig))
	bomb.WriteString("x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		p := "*x" + strconv.Itoa(i-1)
		bomb.WriteString("x" + strconv.Itoa(i) + ": &x" + strconv.Itoa(i) + " [" + strings.Repeat(p+", ", 8) + p + "]\n")
	}
	var ck checked
	if st := c.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": bomb.String()}, &ck); st != http.StatusUnprocessableEntity || ck.Saved ||
		!strings.Contains(rules(ck), "PARLEY-003") {
		t.Errorf("saving an alias bomb: status %d saved %v rules %s, want 422 with PARLEY-003", st, ck.Saved, rules(ck))
	}

	// Just over the cap: the flow loader refuses it as parley lint does.
	over := string(orig) + "# " + strings.Repeat("x", studio.MaxSourceBytes) + "\n"
	ck = checked{}
	if st := c.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": over}, &ck); st != http.StatusUnprocessableEntity ||
		!strings.Contains(rules(ck), "PARLEY-009") {
		t.Errorf("saving a flow just over 1 MiB: status %d rules %s, want 422 with PARLEY-009", st, rules(ck))
	}
	// Far over it: refused before it is read as a flow.
	huge := strings.Repeat("x", 2*studio.MaxSourceBytes)
	var fail struct{ Error string }
	if st := c.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": huge}, &fail); st != http.StatusRequestEntityTooLarge ||
		!strings.Contains(fail.Error, "1 MiB") {
		t.Errorf("saving 2 MiB: status %d %q, want 413 naming the limit", st, fail.Error)
	}

	const secret = "sk_live_51HcanaryStudioSecret000000"
	withSecret := strings.Replace(string(orig), "  privacy_url: https://smile.example/privacy",
		"  privacy_url: https://smile.example/privacy?api_key="+secret, 1)
	var raw json.RawMessage
	if st := c.call("POST", "/save", map[string]string{"file": "booking.yaml", "source": withSecret}, &raw); st != http.StatusUnprocessableEntity {
		t.Errorf("saving a flow with a secret: status %d, want 422", st)
	}
	ck = checked{}
	json.Unmarshal(raw, &ck)
	if !strings.Contains(rules(ck), "PARLEY-304") {
		t.Errorf("saving a flow with a secret: rules %s, want PARLEY-304", rules(ck))
	}
	if strings.Contains(string(raw), secret) {
		t.Errorf("the studio's answer repeats the secret: %s", raw)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
		t.Fatal("a hostile flow was written")
	}
	logHolds(t, logs, secret)
}

// TestStudioClockTakesRetentionUnits: the studio's clock moves in the units
// retention is written in: four weeks keep booking's 30-day fields, one
// more sweeps them.
func TestStudioClockTakesRetentionUnits(t *testing.T) {
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}})
	c := studioClient{t: t, base: e.listen(t)}
	s := c.session()
	c.book(s, "Ada", "ada@example.com")
	for _, jump := range []struct {
		advance string
		swept   int
	}{{"4w", 0}, {"1w", 3}} {
		var h studioHeld
		if st := c.call("POST", "/clock", map[string]string{"session": s, "advance": jump.advance}, &h); st != http.StatusOK || h.Swept != jump.swept {
			t.Errorf("moving the clock %s: status %d, swept %d; want 200 and %d", jump.advance, st, h.Swept, jump.swept)
		}
	}
}

// TestStudioNamesOnlyItsFlowFiles: a name that climbs out of the flow
// directory, an absolute path or a file that is not a flow is not one the
// studio reads, lints or writes.
func TestStudioNamesOnlyItsFlowFiles(t *testing.T) {
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}})
	c := studioClient{t: t, base: e.listen(t)}
	outside := filepath.Join(filepath.Dir(e.flowsDir), "outside.yaml")
	const secretText = "outside-the-flow-directory"
	if err := os.WriteFile(outside, []byte("# "+secretText+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(e.flowsDir, "booking.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../outside.yaml", outside, "./booking.yaml", "booking.yaml/../../outside.yaml", `..\outside.yaml`,
		"sub/../../outside.yaml", "booking_test.yaml", ".parley.yaml", ""} {
		var raw json.RawMessage
		if st := c.call("GET", "/file?name="+url.QueryEscape(name), nil, &raw); st != http.StatusNotFound || strings.Contains(string(raw), secretText) {
			t.Errorf("reading %q: status %d %s, want 404", name, st, raw)
		}
		if st := c.call("POST", "/lint", map[string]string{"file": name, "source": string(src)}, nil); st != http.StatusNotFound {
			t.Errorf("linting as %q: status %d, want 404", name, st)
		}
		if st := c.call("POST", "/save", map[string]string{"file": name, "source": string(src)}, nil); st != http.StatusNotFound {
			t.Errorf("saving as %q: status %d, want 404", name, st)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "# "+secretText+"\n" {
		t.Error("the studio wrote outside the flow directory")
	}
}

// TestStudioFlagsACopiedFlowsID: an author copies booking.yaml to
// salon.yaml while the server runs and opens the copy in the studio. Its
// id is still booking, which the served booking.yaml uses: the studio
// shows the error at the id line and does not save (saved, the reload
// would be refused and the next start of parley serve too); with an id of
// its own it saves, reloads and chats.
func TestStudioFlagsACopiedFlowsID(t *testing.T) {
	e := newEnv(t, envOptions{studio: &server.StudioConfig{}})
	c := studioClient{t: t, base: e.listen(t)}
	src, err := os.ReadFile(filepath.Join(e.flowsDir, "booking.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(e.flowsDir, "salon.yaml")
	if err := os.WriteFile(copyPath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	idLine := strings.Count(string(src[:bytes.Index(src, []byte("\nid: booking"))+1]), "\n") + 1
	type checked = studioChecked
	edited := strings.Replace(string(src), "Smile Dental's booking assistant", "Bella Chioma's booking assistant", 1)
	for _, route := range []string{"/lint", "/save"} {
		var ck checked
		st := c.call("POST", route, map[string]string{"file": "salon.yaml", "source": edited}, &ck)
		found := false
		for _, d := range ck.Diagnostics {
			found = found || d.Line == idLine && d.Col == 5 && d.Rule == "PARLEY-104" && strings.Contains(d.Message, "booking.yaml")
		}
		if !found || ck.Saved {
			t.Errorf("%s of the copy: status %d saved %v diagnostics %+v, want PARLEY-104 at %d:5 naming booking.yaml", route, st, ck.Saved, ck.Diagnostics, idLine)
		}
	}
	if b, _ := os.ReadFile(copyPath); !bytes.Equal(b, src) {
		t.Fatal("the copy was saved with the id of another served flow")
	}
	// Editing booking.yaml itself is not flagged.
	var ck checked
	if st := c.call("POST", "/lint", map[string]string{"file": "booking.yaml", "source": string(src)}, &ck); st != http.StatusOK || ck.Errors != 0 {
		t.Errorf("lint of booking.yaml itself: status %d, %d errors %+v", st, ck.Errors, ck.Diagnostics)
	}
	own := strings.Replace(edited, "\nid: booking\n", "\nid: salon\n", 1)
	ck = checked{}
	if st := c.call("POST", "/save", map[string]string{"file": "salon.yaml", "source": own}, &ck); st != http.StatusOK || !ck.Saved {
		t.Fatalf("saving the copy with an id of its own: status %d %+v", st, ck)
	}
	if r := c.say(c.session(), "salon", "", ""); len(r.Messages) == 0 || !strings.Contains(r.Messages[0].Text, "Bella Chioma") {
		t.Errorf("the saved copy opens with %+v, want its edited greeting", r.Messages)
	}
}
