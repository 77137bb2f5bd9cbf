//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// TestThreeInstancesShareOnePostgres runs three `parley serve` processes on
// one PostgreSQL database behind a round-robin of signed webhooks: 64
// booking conversations, each customer's six messages delivered one after
// the other to whichever instance is next (so consecutive turns of one
// conversation are stored by different instances and claimed by any), and
// one instance killed with SIGKILL a third of the way through and
// restarted. Every conversation must complete with its confirmation; the
// fake Graph API must see each conversation's seven replies in script
// order, a reply repeated only right after itself (the re-send of a reply
// whose send had started when its instance died) and no more such repeats
// than the instances counted in parley_outbox_duplicate_sends_total; and no
// queue entry or claim may be left. Turns of one conversation run
// concurrently on two instances would interleave or lose its state and
// break the script's replies.
func TestThreeInstancesShareOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes; skipped with -short")
	}
	url := pgtest.URL(t)
	const (
		conversations = 64
		instances     = 3
		victim        = 1 // the instance killed
	)
	script := killScript
	killAt := int64(conversations * len(script) / 3)
	g, graphURL, flows := newKillGraph(t)
	// The victim talks to the Graph API through stall: once armed, the
	// replies it sends are accepted but never answered, so it dies in the
	// middle of sends that reached the customer.
	stall := &stallGraph{g: g, armed: make(chan struct{}), first: make(chan struct{})}
	stallSrv := httptest.NewServer(stall)
	defer stallSrv.Close()
	// A short lease, so the victim's claims are taken over in 5 s.
	args := []string{"--lease", "5s", "--claim-every", "50ms"}
	start := func(graph string) *serverProc {
		return startServeArgs(t, flows, t.TempDir(), graph, args, "PARLEY_STORE_URL="+url)
	}
	began := time.Now()
	var (
		mu    sync.Mutex
		procs [instances]*serverProc
	)
	for i := range procs {
		if i == victim {
			procs[i] = start(stallSrv.URL)
		} else {
			procs[i] = start(graphURL)
		}
	}
	first := procs[victim]
	proc := func(i int) *serverProc { mu.Lock(); defer mu.Unlock(); return procs[i] }
	defer func() {
		for i := range procs {
			p := proc(i)
			p.cmd.Process.Kill()
			<-p.exited
			if t.Failed() {
				t.Logf("instance %d's log:\n%s", i, p.output())
			}
		}
		if t.Failed() {
			t.Logf("killed instance's log:\n%s", first.output())
		}
	}()

	runDeadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var rr, answered, redelivered atomic.Int64
	kill := make(chan struct{})
	var killOnce sync.Once
	// deliver posts a signed webhook to the next instance in turn; one that
	// does not answer 200 (the killed one) gets it again from the next,
	// as Meta redelivers.
	deliver := func(body []byte) bool {
		for time.Now().Before(runDeadline) {
			p := proc(int(rr.Add(1) % instances))
			if code, err := p.tryWebhook(client, body); err == nil && code == http.StatusOK {
				if answered.Add(1) == killAt {
					killOnce.Do(func() { close(kill) })
				}
				return true
			}
			redelivered.Add(1)
		}
		return false
	}

	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		<-kill
		close(stall.armed)
		select {
		case <-stall.first:
		case <-time.After(10 * time.Second): // it sent nothing more: killed all the same
		}
		p := proc(victim)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		np := start(graphURL)
		mu.Lock()
		procs[victim] = np
		mu.Unlock()
	}()

	users := make([]string, conversations)
	var wg sync.WaitGroup
	lost := make(chan string, conversations)
	for i := range conversations {
		users[i] = fmt.Sprintf("1888%08d", i)
		wg.Go(func() {
			for k, turn := range script {
				if !deliver(whatsapptest.TextWebhook(killPNID, users[i], fmt.Sprintf("wamid.MULTI.%d.%d", i, k), killText(i, turn.text), time.Now())) {
					lost <- fmt.Sprintf("conversation %d: message %d was never answered 200", i, k+1)
					return
				}
			}
		})
	}
	wg.Wait()
	close(lost)
	for s := range lost {
		t.Error(s)
	}

	duplicates := 0
	for i, user := range users {
		got, ok := g.confirmed(t, runDeadline, i, user)
		if !ok {
			continue
		}
		var collapsed []string
		for j, r := range got {
			if j > 0 && r == got[j-1] {
				continue // the re-send of a reply whose send had started
			}
			collapsed = append(collapsed, r)
		}
		if n := len(got) - len(collapsed); n > 1 {
			t.Errorf("conversation %d: %d replies repeated; one instance died once, so at most one reply per customer may be", i, n)
		}
		duplicates += len(got) - len(collapsed)
		// The seven replies of the script are all different: in order and
		// each once (after dropping immediate repeats), or a turn ran
		// twice, out of order, or on a stale state.
		if len(collapsed) != 7 || !strings.Contains(collapsed[3], fmt.Sprintf("Thanks Name%d!", i)) ||
			collapsed[4] == collapsed[3] || !strings.Contains(collapsed[6], fmt.Sprintf("Name%d", i)) {
			t.Errorf("conversation %d: replies %q, want the 7 replies of the booking script in order", i, collapsed)
		}
	}
	select {
	case <-restarted:
	default:
		t.Fatalf("the run ended before the kill (%d webhooks answered, kill at %d)", answered.Load(), killAt)
	}
	elapsed := time.Since(began)

	// Nothing is left queued or claimed once the instances are idle: every
	// entry was acked in its commit or its acknowledgement.
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var items, leases int
		if err := conn.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM parley_queue_items), (SELECT count(*) FROM parley_queue_leases)`).Scan(&items, &leases); err != nil {
			t.Fatal(err)
		}
		if items == 0 && leases == 0 {
			break
		}
		if time.Now().After(runDeadline) {
			t.Fatalf("after the run %d queue entries and %d claims are left", items, leases)
		}
		<-tick.C
	}

	// Metrics of the three serving instances (the killed one's first life
	// is gone with it).
	var turns, dupMetric, takeovers [instances]float64
	for i := range procs {
		p := proc(i)
		turns[i] = scrapeMetric(t, client, p.base, "parley_turns_total")
		dupMetric[i] = scrapeMetric(t, client, p.base, "parley_outbox_duplicate_sends_total")
		takeovers[i] = scrapeMetric(t, client, p.base, "parley_claims_taken_over_total")
	}
	sum := func(v [instances]float64) (s float64) {
		for _, x := range v {
			s += x
		}
		return s
	}
	t.Logf("%d conversations, %d turns, %d replies in %.1fs on %d instances; SIGKILL after %d answered webhooks; %d deliveries repeated; "+
		"turns per instance %v; %d replies seen twice at the Graph API; parley_outbox_duplicate_sends_total %v; parley_claims_taken_over_total %v",
		conversations, conversations*len(script), conversations*7, elapsed.Seconds(), instances, killAt, redelivered.Load(),
		turns, duplicates, dupMetric, takeovers)
	if float64(duplicates) > sum(dupMetric) {
		t.Errorf("%d duplicate sends reached the Graph API but the instances counted %v", duplicates, dupMetric)
	}
	// Every reply the victim had sent unanswered was re-sent by the
	// instance that took its claim over: the crash case did happen.
	if n := stall.stalled.Load(); n == 0 || int64(duplicates) < n || sum(takeovers) == 0 {
		t.Errorf("the victim died with %d sends unanswered; %d replies seen twice, takeovers %v: want every stalled reply taken over and re-sent", n, duplicates, takeovers)
	}
	// A turn commits once: the serving instances (the victim's first life
	// aside) cannot have committed more turns than the script has.
	if n := sum(turns); n > float64(conversations*len(script)) {
		t.Errorf("the instances committed %v turns, more than the %d of the script", n, conversations*len(script))
	}
	for i, n := range turns {
		if i != victim && n == 0 {
			t.Errorf("instance %d ran no turn: the work was not shared", i)
		}
	}

	// A graceful stop of every instance exits 0.
	client.CloseIdleConnections()
	for i := range procs {
		p := proc(i)
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("instance %d exited %d after SIGTERM, want 0", i, code)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("instance %d did not stop within 30s of SIGTERM", i)
		}
	}
}

// stallGraph is the Graph API as the victim sees it: once armed, each reply
// is accepted (recorded by g) but its answer never comes, as when the
// process dies during the request. Read receipts pass.
type stallGraph struct {
	g       *killGraph
	armed   chan struct{}
	first   chan struct{} // closed at the first stalled reply
	once    sync.Once
	stalled atomic.Int64
}

func (s *stallGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	select {
	case <-s.armed:
		if bytes.Contains(body, []byte(`"to"`)) {
			s.g.ServeHTTP(httptest.NewRecorder(), r)
			s.stalled.Add(1)
			s.once.Do(func() { close(s.first) })
			<-r.Context().Done()
			return
		}
	default:
	}
	s.g.ServeHTTP(w, r)
}

// scrapeMetric sums every sample of a metric family on a server's /metrics.
func scrapeMetric(t *testing.T, client *http.Client, base, name string) float64 {
	t.Helper()
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// TestSecondServeOnBadgerIsRefused: on Badger the data directory belongs to
// one process; a second `parley serve` on it stops at once and says what to
// do instead.
func TestSecondServeOnBadgerIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process; skipped with -short")
	}
	_, graphURL, flows := newKillGraph(t)
	data := t.TempDir()
	p := startServe(t, flows, data, graphURL)
	defer func() {
		p.cmd.Process.Kill()
		<-p.exited
	}()
	t.Setenv("PARLEY_MASTER_KEY", killMasterKey)
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--addr", "127.0.0.1:0", "--flows", flows, "--data", data, "--web-chat", "off"}, strings.NewReader(""), &out, &errb)
	if code == 0 {
		t.Fatal("a second parley serve on the same data directory exited 0")
	}
	for _, want := range []string{"in use by another parley process", "--store", "docs/deploy.md"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("second serve said %q; want it to mention %q", errb.String(), want)
		}
	}
}
