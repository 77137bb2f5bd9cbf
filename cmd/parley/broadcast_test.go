package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

func newBCGraph(t *testing.T) (*killGraph, string) {
	g := &killGraph{got: map[string][]string{}, changed: make(chan struct{})}
	s := httptest.NewServer(g)
	t.Cleanup(s.Close)
	return g, s.URL
}

func (g *killGraph) templatesTo(to string) []string {
	var out []string
	for _, s := range g.replies(to) {
		if strings.HasPrefix(s, "template:") {
			out = append(out, s)
		}
	}
	return out
}

// waitReply waits until to received a message containing want.
func (g *killGraph) waitReply(t *testing.T, to, want string) {
	t.Helper()
	ok := g.waitFor(time.Now().Add(30*time.Second), func() bool {
		for _, s := range g.replies(to) {
			if strings.Contains(s, want) {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("%s got no reply with %q; got %q", to, want, g.replies(to))
	}
}

// subscribe runs newsletter conversations against a `parley serve` process
// over signed webhooks, then stops it: each script is a customer's
// messages, each with a word its reply must contain.
func subscribe(t *testing.T, g *killGraph, graphURL, data string, scripts map[string][][2]string, env ...string) {
	t.Helper()
	flows, err := filepath.Abs("../../flows")
	if err != nil {
		t.Fatal(err)
	}
	p := startServe(t, flows, data, graphURL, append([]string{"PARLEY_WHATSAPP_FLOW=newsletter"}, env...)...)
	n := 0
	for user, script := range scripts {
		for _, step := range script {
			n++
			body := whatsapptest.TextWebhook(killPNID, user, fmt.Sprintf("wamid.BC.%d", n), step[0], time.Now())
			if tap, ok := strings.CutPrefix(step[0], "button:"); ok {
				body = whatsapptest.ButtonWebhook(killPNID, user, fmt.Sprintf("wamid.BC.%d", n), tap, tap, time.Now())
			}
			if st := p.postWebhook(t, body); st != http.StatusOK {
				t.Fatalf("webhook answered %d", st)
			}
			g.waitReply(t, user, step[1])
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("parley serve did not stop:\n%s", p.output())
	}
}

var (
	subscribeScript = func(name string) [][2]string {
		return [][2]string{{"hi", "Do you agree?"}, {"YES", "What should we call you?"}, {name, "Which email"}}
	}
	broadcastEnv = []string{"PARLEY_MASTER_KEY=" + killMasterKey, "PARLEY_WHATSAPP_ACCESS_TOKEN=bc-token",
		"PARLEY_WHATSAPP_PHONE_NUMBER_ID=" + killPNID}
)

// TestBroadcastReachesOnlyCurrentConsent: of five newsletter customers
// (signed webhooks into a real parley serve), one subscribed, one declined,
// one subscribed then sent STOP, one subscribed then tapped the "Stop
// promotions" quick reply, one subscribed then was erased. A dry run
// counts one and sends nothing; the broadcast sends the monthly issue,
// with the subscriber's name, to that one only; an --only list naming the
// others adds nobody; and the audit log records the audience size.
func TestBroadcastReachesOnlyCurrentConsent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts parley serve; skipped with -short")
	}
	g, graphURL := newBCGraph(t)
	data := t.TempDir()
	const sub, declined, stopped, promo, erased = "15550200001", "15550200002", "15550200003", "15550200004", "15550200005"
	subscribe(t, g, graphURL, data, map[string][][2]string{
		sub:      subscribeScript("Ann"),
		declined: {{"hi", "Do you agree?"}, {"NO", "nothing was saved"}},
		stopped:  append(subscribeScript("Bob"), [2]string{"STOP", "withdrawn"}),
		promo:    append(subscribeScript("Cid"), [2]string{"button:Stop promotions", "withdrawn"}),
		erased:   append(subscribeScript("Dee"), [2]string{"DELETE MY DATA", "erase"}, [2]string{"YES", "erased"}),
	})
	for _, kv := range broadcastEnv {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("PARLEY_WHATSAPP_GRAPH_URL", graphURL)
	base := []string{"broadcast", "--flow", "newsletter", "--template", "monthly_issue", "--flows", "../../flows", "--data", data, "--rate", "80"}

	var out, errOut bytes.Buffer
	if code := run(append(base, "--dry-run"), strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("dry run exited %d:\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "would go to 1 customers") || !strings.Contains(out.String(), "sample: s:") {
		t.Errorf("dry run printed:\n%s", out.String())
	}
	for _, u := range []string{sub, declined, stopped, promo, erased} {
		if got := g.templatesTo(u); len(got) != 0 {
			t.Fatalf("the dry run sent %v to %s", got, u)
		}
	}

	only := filepath.Join(t.TempDir(), "list.txt")
	os.WriteFile(only, []byte("whatsapp:"+declined+"\nwhatsapp:+"+stopped+"\nwhatsapp:"+erased+"\n"), 0o600)
	out.Reset()
	if code := run(append(base, "--only", only), strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("broadcast --only exited %d:\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "to 0 customers") {
		t.Errorf("--only naming customers without consent printed:\n%s", out.String())
	}

	out.Reset()
	if code := run(base, strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("broadcast exited %d:\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "to 1 customers") || !strings.Contains(out.String(), "1 sent") {
		t.Errorf("broadcast printed:\n%s", out.String())
	}
	if got := g.templatesTo(sub); len(got) != 1 || got[0] != "template:monthly_issue[Ann]" {
		t.Errorf("the subscriber got %v, want the monthly issue with their name", got)
	}
	for _, u := range []string{declined, stopped, promo, erased} {
		if got := g.templatesTo(u); len(got) != 0 {
			t.Errorf("%s, who has no current consent, got %v", u, got)
		}
	}

	out.Reset()
	if code := run([]string{"audit", "show", "--data", data}, strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("audit exited %d: %s", code, errOut.String())
	}
	for _, want := range []string{"broadcast.dry_run", "broadcast.start", "broadcast.done", "audience=1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the audit log lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBroadcastResumesAfterSIGKILL: a `parley broadcast` process killed
// while its third message is in flight leaves progress behind; the same
// command run again sends to everyone not yet sent, sends the in-flight one
// again (and says so: the counted crash case) and nobody else twice.
func TestBroadcastResumesAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes; skipped with -short")
	}
	g, graphURL := newBCGraph(t)
	data := t.TempDir()
	users := map[string][][2]string{}
	for i := range 6 {
		users[fmt.Sprintf("1555030000%d", i)] = subscribeScript(fmt.Sprintf("Sub%d", i))
	}
	subscribe(t, g, graphURL, data, users)

	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	g.mu.Lock()
	g.hold = func(n int) {
		if n == 3 {
			once.Do(func() { close(blocked) })
			<-release
		}
	}
	g.mu.Unlock()
	bin, err := exec.LookPath("parley")
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := filepath.Abs("../../flows")
	args := []string{"broadcast", "--flow", "newsletter", "--template", "monthly_issue", "--flows", flows, "--data", data, "--rate", "80"}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), broadcastEnv...), "PARLEY_WHATSAPP_GRAPH_URL="+graphURL)
	var first bytes.Buffer
	cmd.Stdout, cmd.Stderr = &first, &first
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the broadcast never reached its third send:\n%s", first.String())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	close(release) // the in-flight send is accepted after all: delivered once already

	second := exec.Command(bin, args...)
	second.Env = cmd.Env
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("the resumed broadcast failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "(resumed)") || !strings.Contains(string(out), "2 sent before") ||
		!strings.Contains(string(out), "3 sent,") || !strings.Contains(string(out), "1 sent again") {
		t.Errorf("the resumed broadcast printed:\n%s", out)
	}
	twice := 0
	for u := range users {
		switch n := len(g.templatesTo(u)); {
		case n == 2:
			twice++
		case n != 1:
			t.Errorf("%s got the issue %d times", u, n)
		}
	}
	if twice > 1 {
		t.Errorf("%d customers got the issue twice; only the one in flight at the kill may", twice)
	}
}

// TestBroadcastOnPostgresRunsOnceAtATime: on a shared PostgreSQL, a second
// `parley broadcast` of the same template started while the first is
// sending is refused (it says why and when a dead run could be resumed)
// and sends nothing; the first finishes, and every subscriber gets the
// issue exactly once.
func TestBroadcastOnPostgresRunsOnceAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped with -short")
	}
	url := pgtest.URL(t)
	g, graphURL := newBCGraph(t)
	users := map[string][][2]string{}
	for i := range 3 {
		users[fmt.Sprintf("1555040000%d", i)] = subscribeScript(fmt.Sprintf("Pg%d", i))
	}
	subscribe(t, g, graphURL, t.TempDir(), users, "PARLEY_STORE_URL="+url)

	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	g.mu.Lock()
	g.hold = func(n int) {
		if n == 1 {
			once.Do(func() { close(blocked) })
			<-release
		}
	}
	g.mu.Unlock()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	bin, err := exec.LookPath("parley")
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := filepath.Abs("../../flows")
	args := []string{"broadcast", "--flow", "newsletter", "--template", "monthly_issue", "--flows", flows, "--rate", "80"}
	env := append(append(os.Environ(), broadcastEnv...), "PARLEY_WHATSAPP_GRAPH_URL="+graphURL, "PARLEY_STORE_URL="+url)
	first := exec.Command(bin, args...)
	first.Env = env
	var out1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &out1
	first.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(30 * time.Second):
		first.Process.Kill()
		t.Fatalf("the first broadcast never sent:\n%s", out1.String())
	}
	second := exec.Command(bin, args...)
	second.Env = env
	out2, err := second.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Errorf("the second broadcast while the first runs exited with %v, want status %d\n%s", err, exitFailure, out2)
	}
	if !strings.Contains(string(out2), "is already running") || !strings.Contains(string(out2), "nothing was sent") ||
		!strings.Contains(string(out2), "run this command again after") {
		t.Errorf("the second broadcast printed:\n%s\nwant that one is already running and when a dead one can be resumed", out2)
	}
	close(release)
	released = true
	if err := first.Wait(); err != nil {
		t.Fatalf("the first broadcast failed: %v\n%s", err, out1.String())
	}
	if !strings.Contains(out1.String(), "3 sent,") {
		t.Errorf("the first broadcast printed:\n%s", out1.String())
	}
	for u := range users {
		if n := len(g.templatesTo(u)); n != 1 {
			t.Errorf("%s got the issue %d times, want once", u, n)
		}
	}
}
