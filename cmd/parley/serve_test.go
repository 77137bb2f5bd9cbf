//go:build linux

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/vault"
)

// killGraph is a fake Graph API that keeps, per recipient, the texts of the
// messages it accepted, and "template:NAME[params]" for a template. hold,
// when set, runs before a template send is answered (it may block); it
// gets the number of template sends so far.
type killGraph struct {
	mu        sync.Mutex
	got       map[string][]string
	changed   chan struct{}
	total     int
	templates int
	hold      func(n int)
}

func (g *killGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var req struct {
		To   string `json:"to"`
		Text struct {
			Body string `json:"body"`
		} `json:"text"`
		Interactive struct {
			Body struct {
				Text string `json:"text"`
			} `json:"body"`
		} `json:"interactive"`
		Template *struct {
			Name       string `json:"name"`
			Components []struct {
				Parameters []struct {
					Text string `json:"text"`
				} `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") || json.Unmarshal(raw, &req) != nil {
		http.Error(w, `{"error":{"message":"bad request","code":100}}`, http.StatusBadRequest)
		return
	}
	text := req.Text.Body + req.Interactive.Body.Text
	if req.Template != nil {
		var ps []string
		for _, c := range req.Template.Components {
			for _, p := range c.Parameters {
				ps = append(ps, p.Text)
			}
		}
		text = fmt.Sprintf("template:%s%v", req.Template.Name, ps)
		g.mu.Lock()
		g.templates++
		n, hold := g.templates, g.hold
		g.mu.Unlock()
		if hold != nil {
			hold(n)
		}
	}
	g.mu.Lock()
	g.total++
	n := g.total
	g.got[req.To] = append(g.got[req.To], text)
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.K%d"}]}`, n)
}

func (g *killGraph) replies(to string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.got[to]...)
}

// waitFor blocks until cond holds or the deadline passes.
func (g *killGraph) waitFor(deadline time.Time, cond func() bool) bool {
	for {
		g.mu.Lock()
		ch := g.changed
		g.mu.Unlock()
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.NewTimer(left)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

// attackAnHourLater purges the data directory (under killMasterKey) as
// of an hour from now, as parley purge --now does, and returns what the
// master-key attacker reads from it then.
func attackAnHourLater(t *testing.T, data string) *vault.Recovered {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"purge", "--data", data, "--now", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("parley purge: exit %d\n%s", code, errb.String())
	}
	key, err := base64.StdEncoding.DecodeString(killMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := vault.AttackerView(data, key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// killScript is the booking conversation of the kill tests, with the
// number of replies to each message; NAME and EMAIL are conversation i's
// (killText).
var killScript = []struct {
	text    string
	replies int
}{{"hi", 2}, {"YES", 1}, {"NAME", 1}, {killBadMail, 1}, {"EMAIL", 1}, {"2", 1}}

func killText(i int, text string) string {
	return strings.NewReplacer("NAME", "Name"+fmt.Sprint(i), "EMAIL", fmt.Sprintf("user%d@example.com", i)).Replace(text)
}

// newKillGraph starts a fake Graph API for the test; it returns it, its URL
// and the shipped flows' directory.
func newKillGraph(t *testing.T) (g *killGraph, url, flows string) {
	t.Helper()
	g = &killGraph{got: map[string][]string{}, changed: make(chan struct{})}
	gs := httptest.NewServer(g)
	t.Cleanup(gs.Close)
	flows, err := filepath.Abs("../../flows")
	if err != nil {
		t.Fatal(err)
	}
	return g, gs.URL, flows
}

// confirmed waits until conversation i's last reply is its confirmation
// and returns its replies, or reports the conversation unfinished.
func (g *killGraph) confirmed(t *testing.T, deadline time.Time, i int, user string) ([]string, bool) {
	t.Helper()
	email := fmt.Sprintf("user%d@example.com", i)
	if !g.waitFor(deadline, func() bool {
		r := g.replies(user)
		return len(r) > 0 && strings.Contains(r[len(r)-1], email)
	}) {
		t.Errorf("conversation %d never received its confirmation; replies: %q", i, g.replies(user))
		return nil, false
	}
	return g.replies(user), true
}

// serverProc is one `parley serve` process.
type serverProc struct {
	cmd    *exec.Cmd
	base   string
	stderr *bytes.Buffer
	exited chan struct{}
	next   chan struct{} // closed when the next process is serving
}

const (
	killMasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	// killBadMail is the invalid answer every conversation gives once.
	killBadMail = "not-an-email-zqkill"
	killSecret  = "kill-test-app-secret"
	killPNID    = "100000000000001"
	killViewer  = "viewer-token-0123456789"
)

// startServe runs the test binary as `parley serve` (testscript.Main put it
// on PATH under that name) and waits until /readyz answers 200. extraEnv
// entries override the defaults.
func startServe(t *testing.T, flows, data, graphURL string, extraEnv ...string) *serverProc {
	t.Helper()
	return startServeArgs(t, flows, data, graphURL, nil, extraEnv...)
}

// startServeArgs is startServe with more command-line flags.
func startServeArgs(t *testing.T, flows, data, graphURL string, args []string, extraEnv ...string) *serverProc {
	t.Helper()
	bin, err := exec.LookPath("parley")
	if err != nil {
		t.Fatalf("the parley command is not on PATH (set up by testscript.Main): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &serverProc{base: "http://" + addr, stderr: &bytes.Buffer{}, exited: make(chan struct{}), next: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--flows", flows, "--data", data, "--web-chat", "off", "--log-format", "json"}, args...)...)
	p.cmd.Env = append(os.Environ(),
		"PARLEY_WHATSAPP_APP_SECRET="+killSecret,
		"PARLEY_WHATSAPP_ACCESS_TOKEN=kill-test-token",
		"PARLEY_WHATSAPP_VERIFY_TOKEN=kill-test-verify",
		"PARLEY_WHATSAPP_PHONE_NUMBER_ID="+killPNID,
		"PARLEY_WHATSAPP_FLOW=booking",
		"PARLEY_WHATSAPP_GRAPH_URL="+graphURL,
		"PARLEY_MASTER_KEY="+killMasterKey,
		"PARLEY_ADMIN_TOKENS=viewer:"+killViewer,
	)
	p.cmd.Env = append(p.cmd.Env, extraEnv...) // later entries win
	p.cmd.Stdout = io.Discard
	// The server must not outlive a test binary that is killed.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("parley serve exited before it was ready:\n%s", p.output())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("parley serve was not ready within 60s:\n%s", p.output())
		}
	}
}

// postWebhook delivers one webhook body to the server, signed as Meta
// signs it, and returns the HTTP status.
func (p *serverProc) postWebhook(t *testing.T, body []byte) int {
	t.Helper()
	code, err := p.tryWebhook(http.DefaultClient, body)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// tryWebhook is postWebhook for a server that may be down: a connection
// error is returned, as Meta would see it.
func (p *serverProc) tryWebhook(client *http.Client, body []byte) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, p.base+"/webhook/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(killSecret), body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (p *serverProc) output() string {
	w := p.cmd.Stderr.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestServeSurvivesSIGKILL runs many booking conversations against a real
// `parley serve` process, kills it with SIGKILL mid-run, restarts it on the
// same data directory and re-delivers every webhook that was not answered
// 200 (as Meta does). No inbound message may be lost: every conversation
// ends with its confirmation, nothing stays queued, and the only allowed
// damage is a repeated reply right after the crash, which is counted.
func TestServeSurvivesSIGKILL(t *testing.T) { serveSurvives(t, syscall.SIGKILL) }

// TestServeSurvivesSIGTERMUnderLoad is the same run with a graceful stop
// in the middle of it: in-flight webhooks are answered and in-flight turns
// finish, the outbox is flushed, the process exits 0, and after the restart
// nothing is lost and nothing is sent twice (a graceful stop leaves no send
// whose outcome is unknown).
func TestServeSurvivesSIGTERMUnderLoad(t *testing.T) { serveSurvives(t, syscall.SIGTERM) }

func serveSurvives(t *testing.T, sig syscall.Signal) {
	if testing.Short() {
		t.Skip("starts and stops server processes; skipped with -short")
	}
	const conversations = 30
	script := killScript
	killAt := int64(conversations * len(script) / 3)
	g, graphURL, flows := newKillGraph(t)
	data := t.TempDir()

	var (
		curMu sync.Mutex
		cur   = startServe(t, flows, data, graphURL)
	)
	first := cur
	current := func() *serverProc { curMu.Lock(); defer curMu.Unlock(); return cur }
	defer func() {
		p := current()
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("first server's log:\n%s\nsecond server's log:\n%s", first.output(), p.output())
		}
	}()

	// One deadline for the whole run, so a broken server fails in bounded
	// time however many conversations are stuck.
	runDeadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var answered, redelivered, unanswered atomic.Int64
	var gaveUp atomic.Bool
	kill := make(chan struct{})
	var killOnce sync.Once
	deliver := func(body []byte) bool {
		for !gaveUp.Load() {
			p := current()
			code, err := p.tryWebhook(client, body)
			if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
				unanswered.Add(1)
			}
			if err == nil && code == http.StatusOK {
				if answered.Add(1) == killAt {
					killOnce.Do(func() { close(kill) })
				}
				return true
			}
			// Not answered 200: Meta delivers it again, here once the
			// restarted server is serving.
			redelivered.Add(1)
			wait := time.NewTimer(time.Until(runDeadline))
			select {
			case <-p.next:
				wait.Stop()
			case <-wait.C:
				return false
			}
		}
		return false
	}

	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		<-kill
		p := current()
		p.cmd.Process.Signal(sig)
		<-p.exited
		if code := p.cmd.ProcessState.ExitCode(); sig == syscall.SIGTERM && code != 0 {
			t.Errorf("parley serve stopped by SIGTERM under load exited %d, want 0", code)
		}
		defer func() {
			if current() == p { // the restart failed (startServe called t.Fatal)
				gaveUp.Store(true)
				close(p.next)
			}
		}()
		np := startServe(t, flows, data, graphURL)
		curMu.Lock()
		cur = np
		curMu.Unlock()
		close(p.next)
	}()

	users := make([]string, conversations)
	var wg sync.WaitGroup
	stuck := make(chan string, conversations)
	for i := range conversations {
		users[i] = fmt.Sprintf("1777%08d", i)
		wg.Go(func() {
			user := users[i]
			want := 0
			for k, turn := range script {
				if !deliver(whatsapptest.TextWebhook(killPNID, user, fmt.Sprintf("wamid.KILL.%d.%d", i, k), killText(i, turn.text), time.Now())) {
					stuck <- fmt.Sprintf("conversation %d: turn %d was never answered 200", i, k+1)
					return
				}
				want += turn.replies
				if !g.waitFor(runDeadline, func() bool { return len(g.replies(user)) >= want }) {
					stuck <- fmt.Sprintf("conversation %d: turn %d got no reply before the deadline", i, k+1)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stuck)
	for s := range stuck {
		t.Error(s)
	}
	select {
	case <-restarted:
	default:
		t.Fatalf("the run ended before the kill (%d webhooks answered, kill at %d)", answered.Load(), killAt)
	}

	// Every conversation ends with its own confirmation; dropping repeated
	// replies (re-sent after the crash) leaves exactly the seven replies of
	// the script, in order.
	duplicates := 0
	for i, user := range users {
		got, ok := g.confirmed(t, runDeadline, i, user)
		if !ok {
			continue
		}
		// The seven replies of the script are all different, so any repeat
		// is a re-send after the crash: the replies of a turn that was
		// committed but not acknowledged go out again, in order (A B A B).
		var collapsed []string
		seen := map[string]bool{}
		for _, r := range got {
			if seen[r] {
				continue
			}
			seen[r] = true
			collapsed = append(collapsed, r)
		}
		duplicates += len(got) - len(collapsed)
		if len(collapsed) != 7 || !strings.Contains(collapsed[3], fmt.Sprintf("Thanks Name%d!", i)) {
			t.Errorf("conversation %d: replies %q, want the 7 replies of the booking script", i, collapsed)
		}
	}

	// Nothing is left queued once the restarted server is idle.
	p := current()
	var summary struct {
		Engine struct {
			Inbox  int `json:"inbox_pending"`
			Outbox int `json:"outbox_pending"`
		} `json:"engine"`
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequest(http.MethodGet, p.base+"/admin/v1/metrics-summary", nil)
		req.Header.Set("Authorization", "Bearer "+killViewer)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&summary)
		resp.Body.Close()
		if summary.Engine.Inbox == 0 && summary.Engine.Outbox == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still queued after the run: inbox %d, outbox %d", summary.Engine.Inbox, summary.Engine.Outbox)
		}
		<-tick.C
	}
	resp, err := client.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	reported := "?"
	for _, line := range strings.Split(string(metrics), "\n") {
		if v, ok := strings.CutPrefix(line, "parley_outbox_duplicate_sends_total "); ok {
			reported = v
		}
	}
	t.Logf("%s after %d answered webhooks; %d deliveries repeated (%d got no answer on an open connection); %d replies seen twice at the Graph API; the restarted server reports parley_outbox_duplicate_sends_total %s",
		sig, killAt, redelivered.Load(), unanswered.Load(), duplicates, reported)
	if sig == syscall.SIGTERM && duplicates > 0 {
		t.Errorf("%d replies were sent twice across a graceful stop", duplicates)
	}
	// The drain answers every delivery that reached the server, 200 or
	// 503: a graceful stop resets none (adapters/server TestShutdownDrains).
	if sig == syscall.SIGTERM && unanswered.Load() > 0 {
		t.Errorf("%d deliveries got no answer on an open connection across a graceful stop", unanswered.Load())
	}
	// The metric is an upper bound: every duplicate the Graph API saw was
	// counted by the restarted server.
	if n, err := strconv.ParseFloat(reported, 64); err != nil || float64(duplicates) > n {
		t.Errorf("%d duplicate sends reached the Graph API but parley_outbox_duplicate_sends_total is %s", duplicates, reported)
	}

	// A graceful stop of the restarted server exits 0. Idle keep-alive
	// connections are closed first: fasthttp's Shutdown can otherwise wait
	// out one of them for up to the 10 s read timeout.
	client.CloseIdleConnections()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("parley serve after SIGTERM exited %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("parley serve did not stop within 30s of SIGTERM")
	}

	// The crash left nothing readable that should not be: an hour later
	// (parley purge --now), the master-key attacker reading every version
	// Badger still keeps finds neither the invalid answers nor any sender's
	// number, though the saved names are still there (a control).
	t.Setenv("PARLEY_MASTER_KEY", killMasterKey)
	r := attackAnHourLater(t, data)
	if !r.Contains([]byte("Name7")) {
		t.Fatal("control: the attacker cannot read the saved names, so the check below proves nothing")
	}
	secrets := append([]string{killBadMail}, users...)
	if leaks := findLeaks(bytes.Join(r.Plaintext, []byte("\n")), secrets); len(leaks) > 0 {
		t.Errorf("an hour after a run with a SIGKILL the master-key attacker reads %v", leaks)
	}
}
