// Command seed fills a data directory with N booking conversations, each run
// to its confirmation through the real server in-process: the same
// server.New, vault, host, WhatsApp channel and flows as `parley serve`,
// signed webhooks handed to the server's HTTP handler (no socket) and a fake
// Graph API answering the sends (an http.RoundTripper, no socket). So the
// data directory holds what served conversations leave (state, fields,
// consents, inbox dedupe markers, outbox and delivery records) in a fraction
// of the time the load generator needs over HTTP: it is the fixture of the
// scale steps of bench/run.sh --scale-only.
//
//	PARLEY_MASTER_KEY=... go run ./bench/seed -data DIR -flows flows -n 100000 [-first 0]
//
// The vault runs with vault.SyncNever (nothing is fsynced while seeding; a
// seeding crash loses only a fixture) and closes at the end, which writes
// everything to the files. Customer numbers are 1996 followed by eight
// digits (-first, -first+1, …): bench/loadgen uses 1997-1999, the peers'
// load generator 1 and a six-digit run tag followed by seven digits (14
// digits), so none collides. It prints progress and conversations/s to
// stdout and exits non-zero on any error.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/session"
	_ "github.com/parleyhq/parley/engine/store/badger" // the data directory's backend
	"github.com/parleyhq/parley/engine/vault"
)

// Script is the booking conversation of the load generators (the peers'
// default -script and -expect): the user's turns ({n}: the conversation
// number) and the replies each turn gets.
var (
	Script = []string{"hi", "YES", "Ada {n}", "not-an-email", "ada{n}@example.com", "2"}
	Expect = []int{2, 1, 1, 1, 1, 1}
)

// NumberPrefix begins every seeded customer's number (see the package doc).
const NumberPrefix = "1996"

// Number is the customer number of seeded conversation n.
func Number(n int) string { return fmt.Sprintf("%s%08d", NumberPrefix, n) }

// Config is one seeding run.
type Config struct {
	Data, Flows   string
	MasterKey     []byte
	Flow          string // the WhatsApp flow (PARLEY_WHATSAPP_FLOW)
	PhoneNumberID string // the business number (PARLEY_WHATSAPP_PHONE_NUMBER_ID)
	First, N      int    // conversations First … First+N-1
	Concurrency   int    // conversations in flight
	Workers       int    // the server's turn workers (serve --workers)
	TurnTimeout   time.Duration
	Progress      time.Duration // how often to print progress (0: never)
	// For, when positive, stops starting conversations after this long:
	// the run ends with those in flight done and reports how many it
	// seeded (a time-boxed fill).
	For time.Duration
	Log *slog.Logger
}

func main() {
	cfg := Config{}
	flag.StringVar(&cfg.Data, "data", "", "data directory of the vault (created if empty; the server must not be running on it)")
	flag.StringVar(&cfg.Flows, "flows", "flows", "directory of flow files, as parley serve --flows")
	keyFile := flag.String("key-file", "", "file holding the master key (default: $PARLEY_MASTER_KEY, else DATA/master.key as parley serve)")
	flag.StringVar(&cfg.Flow, "flow", envOr("PARLEY_WHATSAPP_FLOW", "booking"), "flow that answers new WhatsApp conversations (default $PARLEY_WHATSAPP_FLOW, else booking)")
	flag.StringVar(&cfg.PhoneNumberID, "phone-number-id", envOr("PARLEY_WHATSAPP_PHONE_NUMBER_ID", "100000000000001"), "the business number's id (default $PARLEY_WHATSAPP_PHONE_NUMBER_ID)")
	flag.IntVar(&cfg.N, "n", 0, "conversations to run to their confirmation")
	flag.IntVar(&cfg.First, "first", 0, "number of the first conversation: customer numbers are "+NumberPrefix+" and 8 digits from it; continue a fill with the count seeded before")
	flag.IntVar(&cfg.Concurrency, "c", 128, "conversations in flight")
	flag.IntVar(&cfg.Workers, "workers", 64, "the server's concurrent conversation workers (parley serve --workers)")
	flag.DurationVar(&cfg.TurnTimeout, "turn-timeout", time.Minute, "longest wait for a turn's replies before the run fails")
	flag.DurationVar(&cfg.Progress, "progress", 10*time.Second, "how often to print progress")
	flag.DurationVar(&cfg.For, "for", 0, "stop starting conversations after this long (0: run all N); the last line says how many were seeded")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if cfg.Data == "" || cfg.N <= 0 || cfg.First < 0 || cfg.First+cfg.N > 1e8 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: seed -data DIR -n N [-first K] [-flows DIR] (N+K at most 100,000,000)")
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400) // as parley serve; the seeder has no memory limit
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	key, _, err := vault.LoadMasterKey(os.Getenv("PARLEY_MASTER_KEY"), *keyFile, cfg.Data)
	if err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(1)
	}
	cfg.MasterKey = key
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "seed: cpu profile: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := Run(context.Background(), cfg, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// appSecret signs the webhooks the seeder hands its own server; it is
// never stored.
const appSecret = "seed-app-secret"

// Run seeds cfg.N conversations into cfg.Data and closes the vault.
func Run(ctx context.Context, cfg Config, out io.Writer) (err error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.TurnTimeout <= 0 {
		cfg.TurnTimeout = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	flows, report, err := server.LoadFlows(cfg.Flows)
	if err != nil {
		return fmt.Errorf("flows in %s: %v\n%s", cfg.Flows, err, report)
	}
	v, err := vault.Open(vault.Options{Dir: cfg.Data, MasterKey: cfg.MasterKey, Logger: cfg.Log, Sync: vault.SyncNever})
	if err != nil {
		return fmt.Errorf("open the vault in %s: %w", cfg.Data, err)
	}
	defer func() {
		if cerr := v.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close the vault: %w", cerr)
		}
	}()
	graph := &fakeGraph{phoneNumberID: cfg.PhoneNumberID, waiting: map[string]chan string{}}
	store := session.New(v)
	srv, err := server.New(server.Config{
		Store: store, Flows: flows, Logger: cfg.Log,
		WhatsApp: &server.WhatsAppConfig{AppSecret: appSecret, AccessToken: "seed-token", PhoneNumberID: cfg.PhoneNumberID,
			Flow: cfg.Flow, GraphURL: "http://127.0.0.1:1", HTTP: &http.Client{Transport: graph}},
		Staff: admin.NewStaff(v, nil, store.Audit), Workers: cfg.Workers,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
	defer stop()

	s := &seeder{cfg: cfg, srv: srv, graph: graph}
	start := time.Now()
	progress := make(chan struct{})
	go s.report(out, start, progress)
	runCtx := ctx
	if cfg.For > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.For)
		defer cancel()
	}
	s.runAll(ctx, runCtx)
	close(progress)
	if err := s.firstErr(); err != nil {
		return fmt.Errorf("%w (%d of %d conversations done)", err, s.done.Load(), cfg.N)
	}
	if err := stop(); err != nil {
		return fmt.Errorf("server shutdown: %w", err)
	}
	el, n := time.Since(start), int(s.done.Load())
	cut := ""
	if n < cfg.N {
		cut = fmt.Sprintf(", stopped by -for %v before %d", cfg.For, cfg.N)
	}
	fmt.Fprintf(out, "seeded %d conversations (numbers %s to %s%s) in %.1f s: %.0f conversations/s\nSEEDED %d\n",
		n, Number(cfg.First), Number(cfg.First+n-1), cut, el.Seconds(), float64(n)/el.Seconds(), n)
	return nil
}

type seeder struct {
	cfg   Config
	srv   *server.Server
	graph *fakeGraph
	next  atomic.Int64
	done  atomic.Int64
	mu    sync.Mutex
	err   error
}

func (s *seeder) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *seeder) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *seeder) report(out io.Writer, start time.Time, stop <-chan struct{}) {
	if s.cfg.Progress <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.Progress)
	defer t.Stop()
	last, lastAt := int64(0), start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			d := s.done.Load()
			fmt.Fprintf(out, "%s seeded %d of %d: %.0f conversations/s (%.0f overall)\n", now.UTC().Format("15:04:05"),
				d, s.cfg.N, float64(d-last)/now.Sub(lastAt).Seconds(), float64(d)/now.Sub(start).Seconds())
			last, lastAt = d, now
		}
	}
}

// runAll runs the conversations until all are done or until starting
// (For) ends; a conversation begun is finished unless ctx ends.
func (s *seeder) runAll(ctx, starting context.Context) {
	var wg sync.WaitGroup
	for range min(s.cfg.Concurrency, s.cfg.N) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s.firstErr() == nil && starting.Err() == nil {
				i := int(s.next.Add(1) - 1)
				if i >= s.cfg.N {
					return
				}
				if err := s.conversation(s.cfg.First + i); err != nil {
					s.fail(err)
					return
				}
				s.done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		s.fail(err)
	}
}

// conversation plays the booking script as customer n, each turn waiting
// for its replies, and checks the confirmation.
func (s *seeder) conversation(n int) error {
	user, ns := Number(n), strconv.Itoa(n)
	replies := s.graph.expect(user)
	defer s.graph.forget(user)
	var last string
	for ti, tmpl := range Script {
		text := strings.ReplaceAll(tmpl, "{n}", ns)
		body := whatsapptest.TextWebhook(s.cfg.PhoneNumberID, user, "wamid.SEED"+ns+"."+strconv.Itoa(ti), text, time.Now())
		req, _ := http.NewRequest(http.MethodPost, "/webhook/whatsapp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(appSecret), body))
		resp, err := s.srv.App().Test(req, -1)
		if err != nil {
			return fmt.Errorf("conversation %d turn %d: webhook: %w", n, ti+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("conversation %d turn %d: webhook answered %s", n, ti+1, resp.Status)
		}
		limit := time.NewTimer(s.cfg.TurnTimeout)
		for got := 0; got < Expect[ti]; got++ {
			select {
			case last = <-replies:
			case <-limit.C:
				return fmt.Errorf("conversation %d turn %d: %d of %d replies after %v", n, ti+1, got, Expect[ti], s.cfg.TurnTimeout)
			}
		}
		limit.Stop()
	}
	if want := "ada" + ns + "@example.com"; !strings.Contains(last, want) {
		return fmt.Errorf("conversation %d: the last reply is not the confirmation (it lacks the email address given)", n)
	}
	select {
	case <-replies:
		return fmt.Errorf("conversation %d: a reply more than the script expects", n)
	default:
	}
	return nil
}

// fakeGraph answers the Graph API's send-message calls in-process, as
// Meta does (message ids unique across runs: the recipient's number is in
// them), and hands each reply's text to the conversation waiting for
// its recipient.
type fakeGraph struct {
	phoneNumberID string
	mu            sync.Mutex
	waiting       map[string]chan string
	ids           atomic.Int64
}

func (g *fakeGraph) expect(user string) chan string {
	ch := make(chan string, 16)
	g.mu.Lock()
	g.waiting[user] = ch
	g.mu.Unlock()
	return ch
}

func (g *fakeGraph) forget(user string) {
	g.mu.Lock()
	delete(g.waiting, user)
	g.mu.Unlock()
}

// graphSend is the part of a send-message request the seeder reads.
type graphSend struct {
	MessagingProduct string `json:"messaging_product"`
	To               string `json:"to"`
	Status           string `json:"status"`
	Text             *struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive *struct {
		Body *struct {
			Text string `json:"text"`
		} `json:"body"`
	} `json:"interactive"`
}

// text is the message's text: a text's body or an interactive's body text.
func (m graphSend) text() string {
	switch {
	case m.Text != nil:
		return m.Text.Body
	case m.Interactive != nil && m.Interactive.Body != nil:
		return m.Interactive.Body.Text
	}
	return ""
}

func (g *fakeGraph) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var m graphSend
	if req.Method != http.MethodPost || len(parts) != 3 || parts[1] != g.phoneNumberID || parts[2] != "messages" ||
		json.Unmarshal(body, &m) != nil || m.MessagingProduct != "whatsapp" {
		return answer(req, http.StatusBadRequest, `{"error":{"message":"Invalid parameter","type":"OAuthException","code":100}}`), nil
	}
	if m.Status != "" && m.To == "" {
		return answer(req, http.StatusOK, `{"success":true}`), nil
	}
	text := m.text()
	g.mu.Lock()
	ch := g.waiting[m.To]
	g.mu.Unlock()
	if ch != nil {
		select {
		case ch <- text:
		default: // a conversation that got far more replies than expected fails on its own
		}
	}
	id := g.ids.Add(1)
	return answer(req, http.StatusOK, fmt.Sprintf(`{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":"wamid.SEEDOUT%s.%d"}]}`,
		m.To, m.To, m.To, id)), nil
}

func answer(req *http.Request, status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req, ContentLength: int64(len(body)),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}
}
