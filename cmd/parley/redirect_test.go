//go:build linux

package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// TestIntegrationRedirectIsNotFollowed: an integration's https endpoint
// answers a call with a redirect to a plain http address. parley serve must
// not follow it: the bearer token and the customer's answers would cross
// the network unencrypted (Go's client keeps the Authorization header on a
// redirect to the same host and re-sends the body on a 307). The call fails
// instead, and the flow takes its on_fail path.
func TestIntegrationRedirectIsNotFollowed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process; skipped with -short")
	}
	const token = "mailer-token-canary-0123456789"
	var mu sync.Mutex
	var leaked []string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization")+" "+string(b))
		mu.Unlock()
	}))
	defer plain.Close()
	mailer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/v1/subscribers", http.StatusTemporaryRedirect)
	}))
	defer mailer.Close()

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mailer.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../flows/newsletter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	flow := strings.Replace(string(src), "https://mailer.orto.example/v1/subscribers", mailer.URL+"/v1/subscribers", 1)
	if flow == string(src) {
		t.Fatal("the newsletter flow no longer calls mailer.orto.example: update the test")
	}
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flows, "newsletter.yaml"), []byte(flow), 0o600); err != nil {
		t.Fatal(err)
	}

	g := &killGraph{got: map[string][]string{}, changed: make(chan struct{})}
	gs := httptest.NewServer(g)
	defer gs.Close()
	p := startServe(t, flows, filepath.Join(dir, "data"), gs.URL,
		"PARLEY_WHATSAPP_FLOW=newsletter", "MAILER_TOKEN="+token, "SSL_CERT_FILE="+ca)
	defer func() { p.cmd.Process.Kill(); <-p.exited }()

	const user = "15550004321"
	for i, text := range []string{"hi", "YES", "Mia", "mia@example.org", "1"} {
		body := whatsapptest.TextWebhook(killPNID, user, fmt.Sprintf("wamid.REDIR.%d", i), text, time.Now())
		if st := p.postWebhook(t, body); st != http.StatusOK {
			t.Fatalf("webhook %d answered %d", i, st)
		}
		// One turn at a time: wait for its reply before the next message.
		if !g.waitFor(time.Now().Add(30*time.Second), func() bool { return len(g.replies(user)) > i }) {
			t.Fatalf("no reply to %q; replies %q\n%s", text, g.replies(user), p.output())
		}
	}
	ended := func() bool {
		r := g.replies(user)
		last := r[len(r)-1]
		return strings.Contains(last, "not answering") || strings.Contains(last, "You're in")
	}
	if !g.waitFor(time.Now().Add(30*time.Second), ended) {
		t.Fatalf("the conversation did not reach the call's outcome; replies %q\n%s", g.replies(user), p.output())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("the plain http address received %q: the redirect was followed", leaked)
	}
	if r := g.replies(user); !strings.Contains(r[len(r)-1], "not answering") {
		t.Errorf("last reply %q, want the flow's on_fail message", r[len(r)-1])
	}
	if strings.Contains(p.output(), token) {
		t.Errorf("the server log holds the integration's token")
	}
}

// TestGraphRedirectIsNotFollowed: the Graph API address answers a send with
// a redirect. parley serve must not follow it: the access token and the
// reply (which may hold a name or an email) would go wherever it points,
// in clear if it points at http://.
func TestGraphRedirectIsNotFollowed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process; skipped with -short")
	}
	g := &killGraph{got: map[string][]string{}, changed: make(chan struct{})}
	target := httptest.NewServer(g)
	defer target.Close()
	var mu sync.Mutex
	attempts := 0
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer graph.Close()
	p := startServe(t, filepath.Join("..", "..", "flows"), t.TempDir(), graph.URL)
	defer func() { p.cmd.Process.Kill(); <-p.exited }()

	body := whatsapptest.TextWebhook(killPNID, "15550004322", "wamid.GREDIR.1", "hi", time.Now())
	p.postWebhook(t, body)
	// A send attempt that followed the redirect reaches the target before
	// the attempt returns; wait for the attempt to have returned (a retry,
	// or the reply given up) or for the target to be reached.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		mu.Lock()
		n := attempts
		mu.Unlock()
		g.mu.Lock()
		reached := g.total
		g.mu.Unlock()
		if reached > 0 || n >= 2 || strings.Contains(p.output(), "reply failed permanently") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no send attempt returned within 30s (%d attempts)\n%s", n, p.output())
		}
		<-tick.C
	}
	if got := g.replies("15550004322"); len(got) > 0 {
		t.Errorf("the redirect was followed: its target received %d replies", len(got))
	}
}
