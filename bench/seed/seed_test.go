package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/vault"
)

const (
	testKey    = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	testPNID   = "100000000000001"
	testSecret = "fidelity-app-secret"
	fidelityK  = 20
)

// TestSeedLeavesWhatServedConversationsLeave seeds K booking conversations
// with the tool and drives K more through a real `parley serve` process
// (signed webhooks over loopback, a fake Graph API), then reads both data
// directories as an auditor with the master key does (vault.Census): the
// same kinds of records, as many of each, and about as many bytes.
func TestSeedLeavesWhatServedConversationsLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs parley serve")
	}
	key, err := base64.StdEncoding.DecodeString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := filepath.Abs("../../flows")
	if err != nil {
		t.Fatal(err)
	}

	// Two runs, as bench/run.sh seeds step after step: the second
	// continues the numbers (and message ids) of the first.
	seeded := t.TempDir()
	for _, first := range []int{0, fidelityK / 2} {
		var out bytes.Buffer
		err = Run(context.Background(), Config{Data: seeded, Flows: flows, MasterKey: key, Flow: "booking",
			PhoneNumberID: testPNID, First: first, N: fidelityK / 2, Concurrency: 4, TurnTimeout: 30 * time.Second}, &out)
		if err != nil {
			t.Fatalf("seed from %d: %v\n%s", first, err, out.String())
		}
		if !strings.Contains(out.String(), fmt.Sprintf("SEEDED %d\n", fidelityK/2)) {
			t.Errorf("seed from %d printed no count: %q", first, out.String())
		}
	}

	served := t.TempDir()
	serveConversations(t, flows, served, fidelityK)

	a, err := vault.Census(seeded, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := vault.Census(served, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded:\n%s\nserved:\n%s", formatCensus(a), formatCensus(b))
	for _, problem := range compareCensus(a, b) {
		t.Error(problem)
	}
}

// TestCompareCensusCatchesAMissingKind: the comparison the fidelity test
// relies on fails when the seeded directory lacks a kind of record, holds
// fewer of one, or far fewer bytes.
func TestCompareCensusCatchesAMissingKind(t *testing.T) {
	served := map[string]vault.KindCount{
		"db k/":     {Live: 20, LiveBytes: 2000, Versions: 20},
		"db s/":     {Live: 20, LiveBytes: 20000, Versions: 120},
		"inbox ic/": {Live: 120, LiveBytes: 6000, Versions: 120},
	}
	same := map[string]vault.KindCount{}
	for k, v := range served {
		same[k] = v
	}
	if p := compareCensus(same, served); len(p) != 0 {
		t.Fatalf("equal censuses compared unequal: %q", p)
	}
	missing := map[string]vault.KindCount{"db k/": served["db k/"], "db s/": served["db s/"]}
	if p := compareCensus(missing, served); len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), "inbox ic/") {
		t.Errorf("a missing kind went unnoticed: %q", p)
	}
	fewer := map[string]vault.KindCount{"db k/": served["db k/"], "db s/": {Live: 19, LiveBytes: 19000, Versions: 114}, "inbox ic/": served["inbox ic/"]}
	if p := compareCensus(fewer, served); len(p) == 0 {
		t.Error("fewer records of a kind went unnoticed")
	}
	smaller := map[string]vault.KindCount{"db k/": served["db k/"], "db s/": {Live: 20, LiveBytes: 10000, Versions: 120}, "inbox ic/": served["inbox ic/"]}
	if p := compareCensus(smaller, served); len(p) == 0 {
		t.Error("a third fewer bytes went unnoticed")
	}
}

// compareCensus lists how the seeded census differs from the served one:
// kinds, live records and versions per kind (but the vault's metadata, m/)
// must be equal, live bytes in all within 15%.
func compareCensus(seeded, served map[string]vault.KindCount) []string {
	var problems []string
	var bytesA, bytesB int64
	for _, k := range kindsOf(seeded, served) {
		a, okA := seeded[k]
		b, okB := served[k]
		switch {
		case !okA:
			problems = append(problems, fmt.Sprintf("kind %q: served conversations leave %d records, seeding none", k, b.Live))
		case !okB:
			problems = append(problems, fmt.Sprintf("kind %q: seeding leaves %d records, served conversations none", k, a.Live))
		case a.Live != b.Live || (!near(a.Versions, b.Versions) && !strings.HasSuffix(k, " m/")):
			// m/ holds sequence leases and the vault's metadata, written at each open:
			// the seeded directory was opened once per run. Versions of the other
			// kinds may differ a little: whether a reply is committed already
			// marked as sending depends on whether the customer's previous send
			// had finished (timing), which adds a rewrite of its out/ entry.
			problems = append(problems, fmt.Sprintf("kind %q: seeded %d live records (%d versions), served %d (%d versions)", k, a.Live, a.Versions, b.Live, b.Versions))
		}
		bytesA += a.LiveBytes
		bytesB += b.LiveBytes
	}
	if bytesB == 0 || bytesA < bytesB*85/100 || bytesA > bytesB*115/100 {
		problems = append(problems, fmt.Sprintf("live bytes: seeded %d, served %d (more than 15%% apart)", bytesA, bytesB))
	}
	return problems
}

// near: within 15% of each other.
func near(a, b int) bool { return a*100 >= b*85 && a*100 <= b*115 }

func kindsOf(cs ...map[string]vault.KindCount) []string {
	seen := map[string]bool{}
	var kinds []string
	for _, c := range cs {
		for k := range c {
			if !seen[k] {
				seen[k] = true
				kinds = append(kinds, k)
			}
		}
	}
	sort.Strings(kinds)
	return kinds
}

func formatCensus(c map[string]vault.KindCount) string {
	var b strings.Builder
	for _, k := range kindsOf(c) {
		fmt.Fprintf(&b, "  %-16s live %5d (%7d bytes), versions %5d\n", k, c[k].Live, c[k].LiveBytes, c[k].Versions)
	}
	return b.String()
}

// serveConversations builds cmd/parley, runs `parley serve` on data and
// plays k booking conversations to it as the peers' load generator does
// (its numbers, its script), each turn waiting for its replies at a fake
// Graph API; then it stops the server with SIGTERM, as bench/run.sh does.
func serveConversations(t *testing.T, flows, data string, k int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/parley")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/parley: %v\n%s", err, b)
	}
	g := &graphRecorder{got: map[string]chan string{}}
	gs := httptest.NewServer(g)
	defer gs.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--flows", flows, "--data", data, "--web-chat", "off")
	cmd.Env = append(os.Environ(),
		"PARLEY_WHATSAPP_APP_SECRET="+testSecret, "PARLEY_WHATSAPP_ACCESS_TOKEN=fidelity-token",
		"PARLEY_WHATSAPP_VERIFY_TOKEN=fidelity-verify", "PARLEY_WHATSAPP_PHONE_NUMBER_ID="+testPNID,
		"PARLEY_WHATSAPP_FLOW=booking", "PARLEY_WHATSAPP_GRAPH_URL="+gs.URL, "PARLEY_MASTER_KEY="+testKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	base := "http://" + addr
	ready := time.NewTicker(20 * time.Millisecond)
	defer ready.Stop()
	for deadline := time.Now().Add(60 * time.Second); ; {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("parley serve not ready within 60s:\n%s", stderr.String())
		}
		select {
		case <-exited:
			t.Fatalf("parley serve exited (%v):\n%s", waitErr, stderr.String())
		case <-ready.C:
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, k)
	sem := make(chan struct{}, 4)
	for n := range k {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- playServed(base, g, n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("parley serve stopped with %v:\n%s", waitErr, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("parley serve did not stop within 60s of SIGTERM:\n%s", stderr.String())
	}
}

// playServed is conversation n of the peers' load generator (run tag
// 424242): its number, message ids and script.
func playServed(base string, g *graphRecorder, n int) error {
	user, ns := fmt.Sprintf("1424242%07d", n), strconv.Itoa(n)
	replies := g.expect(user)
	var last string
	for ti, tmpl := range Script {
		text := strings.ReplaceAll(tmpl, "{n}", ns)
		body := whatsapptest.TextWebhook(testPNID, user, fmt.Sprintf("wamid.LG424242.%d.%d", n, ti), text, time.Now())
		req, _ := http.NewRequest(http.MethodPost, base+"/webhook/whatsapp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(testSecret), body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("served conversation %d turn %d: webhook answered %s", n, ti+1, resp.Status)
		}
		timeout := time.NewTimer(30 * time.Second)
		for got := 0; got < Expect[ti]; got++ {
			select {
			case last = <-replies:
			case <-timeout.C:
				return fmt.Errorf("served conversation %d turn %d: %d of %d replies in 30s", n, ti+1, got, Expect[ti])
			}
		}
		timeout.Stop()
	}
	if !strings.Contains(last, "ada"+ns+"@example.com") {
		return fmt.Errorf("served conversation %d ended without its confirmation", n)
	}
	return nil
}

// graphRecorder is a fake Graph API on loopback: it answers sends as Meta
// does and passes each text to the conversation of its recipient.
type graphRecorder struct {
	mu  sync.Mutex
	got map[string]chan string
	ids int
}

func (g *graphRecorder) expect(user string) chan string {
	ch := make(chan string, 16)
	g.mu.Lock()
	g.got[user] = ch
	g.mu.Unlock()
	return ch
}

func (g *graphRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m graphSend
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || !strings.HasSuffix(r.URL.Path, "/"+testPNID+"/messages") {
		http.Error(w, `{"error":{"message":"Invalid parameter","code":100}}`, http.StatusBadRequest)
		return
	}
	text := m.text()
	g.mu.Lock()
	g.ids++
	id := g.ids
	ch := g.got[m.To]
	g.mu.Unlock()
	if ch != nil {
		ch <- text
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":"wamid.G%d"}]}`, m.To, m.To, id)
}
