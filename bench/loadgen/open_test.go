package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// fakeClock is a clock that moves only when told: Sleep moves it forward
// by the time asked for and returns at once.
type fakeClock struct {
	mu        sync.Mutex
	now       time.Time
	slept     []time.Duration
	oversleep time.Duration // added to every sleep: a sleeper woken late
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		f.Advance(d + f.oversleep)
		f.mu.Lock()
		f.slept = append(f.slept, d)
		f.mu.Unlock()
	}
	return ctx.Err()
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fakeClock) sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.slept)
}

// fakeBot is a bot on loopback that answers the booking script as the
// flow does (two replies to "hi", one to every other turn, the email in
// the confirmation), posting its replies to the load generator's fake
// Graph API before it answers the webhook 200. Before it answers the
// n-th webhook (from 1) it calls stall(n), which tests use to move a fake
// clock as if the bot had been stuck that long.
type fakeBot struct {
	srv   *httptest.Server
	mu    sync.Mutex
	n     int
	texts map[string][]string // per customer, in order of arrival
}

func newFakeBot(t *testing.T, g *graph, secret []byte, stall func(n int)) *fakeBot {
	t.Helper()
	b := &fakeBot{texts: map[string][]string{}}
	client := &http.Client{Timeout: 10 * time.Second}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !whatsapp.VerifySignature(secret, body, r.Header.Get(whatsapp.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		batch, err := whatsapp.Decode(body)
		if err != nil || len(batch.Messages) != 1 {
			http.Error(w, "bad webhook", http.StatusBadRequest)
			return
		}
		m := batch.Messages[0]
		from, text := m.From.WaID, string(m.Text)
		b.mu.Lock()
		b.n++
		n := b.n
		b.texts[from] = append(b.texts[from], text)
		b.mu.Unlock()
		if stall != nil {
			stall(n)
		}
		replies := []string{"Thanks, " + text}
		switch text {
		case "hi":
			replies = []string{"Hello", "May we keep your details?"}
		case "2":
			replies = []string{"Booked for Ada, ada@example.com"}
		}
		for _, reply := range replies {
			send, _ := json.Marshal(map[string]any{"messaging_product": "whatsapp", "to": from, "type": "text", "text": map[string]string{"body": reply}})
			resp, err := client.Post(g.URL()+"/v25.0/"+phoneNumberID+"/messages", "application/json", bytes.NewReader(send))
			if err != nil {
				http.Error(w, "graph", http.StatusBadGateway)
				return
			}
			resp.Body.Close()
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *fakeBot) webhooks() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// conversationsInOrder checks that every customer the bot heard from sent
// a prefix of the script, in order.
func (b *fakeBot) conversationsInOrder(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for from, texts := range b.texts {
		for k, text := range texts {
			if k >= len(script) || text != script[k].text {
				t.Errorf("customer %s sent %q, not a prefix of the script", from, texts)
				break
			}
		}
	}
}

func startTestGraph(t *testing.T) *graph {
	t.Helper()
	g, err := startGraph("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func openConfig(g *graph, bot *fakeBot, rate float64, d time.Duration, conversations int) config {
	return config{base: bot.srv.URL, secret: []byte("test-secret"), graph: g, conversations: conversations,
		duration: d, rate: rate, turnTimeout: 10 * time.Second}
}

// TestOpenLoopOffersEveryTurn: the open loop sends rate × duration turns,
// no more and no fewer, each conversation's turns in the script's order,
// and accounts for every one (carried + failed = offered).
func TestOpenLoopOffersEveryTurn(t *testing.T) {
	g := startTestGraph(t)
	bot := newFakeBot(t, g, []byte("test-secret"), nil)
	res, err := driveOpen(t.Context(), openConfig(g, bot, 1000, 120*time.Millisecond, 8), newFakeClock())
	if err != nil {
		t.Fatal(err)
	}
	if res.offered != 120 || res.turns != 120 || res.failed != 0 || res.unsent != 0 || len(res.latencies) != 120 || len(res.lags) != 120 {
		t.Errorf("offered %d, carried %d, failed %d, never sent %d, %d latencies, %d lags; want 120 offered and carried, none failed",
			res.offered, res.turns, res.failed, res.unsent, len(res.latencies), len(res.lags))
	}
	if bot.webhooks() != 120 {
		t.Errorf("the bot got %d webhooks, want 120", bot.webhooks())
	}
	if res.conversations == 0 || res.conversations*len(script) > res.turns || res.wrongLast != 0 {
		t.Errorf("%d conversations completed (%d confirmations without the email) from %d turns", res.conversations, res.wrongLast, res.turns)
	}
	bot.conversationsInOrder(t)
}

// TestOpenLoopLatencyFromSchedule: one customer, 10 turns due every 10 ms,
// and a bot stuck for 5 s on the first. The nine turns due while it was
// stuck are sent late, and their latency runs from when they were due,
// not from when they could be sent: a load generator that measured from
// the send would report them as instant and hide the stall (coordinated
// omission). Carried turns/s counts until the last turn was answered.
func TestOpenLoopLatencyFromSchedule(t *testing.T) {
	g := startTestGraph(t)
	clk := newFakeClock()
	bot := newFakeBot(t, g, []byte("test-secret"), func(n int) {
		if n == 1 {
			clk.Advance(5 * time.Second)
		}
	})
	res, err := driveOpen(t.Context(), openConfig(g, bot, 100, 100*time.Millisecond, 1), clk)
	if err != nil {
		t.Fatal(err)
	}
	if res.offered != 10 || res.turns != 10 || res.failed != 0 || res.late != 9 || res.busy != 9 {
		t.Fatalf("offered %d, carried %d, failed %d, late %d (%d for want of a free customer); want 10 carried, 9 of them late for want of one",
			res.offered, res.turns, res.failed, res.late, res.busy)
	}
	var want []time.Duration
	for k := range 10 {
		want = append(want, 5*time.Second-time.Duration(k)*10*time.Millisecond) // answered at 5 s, due at k × 10 ms
	}
	slices.Sort(want)
	slices.Sort(res.latencies)
	if !slices.Equal(res.latencies, want) {
		t.Errorf("latencies %v, want %v (from each turn's scheduled time)", res.latencies, want)
	}
	if res.elapsed != 5*time.Second {
		t.Errorf("elapsed %s, want 5s (until the last turn was answered)", res.elapsed)
	}
	var out bytes.Buffer
	res.print(&out)
	for _, s := range []string{"offered          10 turns at 100/s", "sent late        9 more than 1ms after their scheduled time, 9 of them because all 1 customers were busy", "turns/s          2\n", `"carried_pct":100`, `"late":9`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

// TestOpenLoopGeneratorWokenLate: a load generator that wakes 3 ms after
// each turn is due (a busy machine) sends those turns late, though its
// customer was free, and the 3 ms count in their latency.
func TestOpenLoopGeneratorWokenLate(t *testing.T) {
	g := startTestGraph(t)
	clk := newFakeClock()
	clk.oversleep = 3 * time.Millisecond
	bot := newFakeBot(t, g, []byte("test-secret"), nil)
	res, err := driveOpen(t.Context(), openConfig(g, bot, 100, 100*time.Millisecond, 1), clk)
	if err != nil {
		t.Fatal(err)
	}
	if res.turns != 10 || res.late != 9 || res.busy != 0 {
		t.Errorf("carried %d, late %d (%d for want of a free customer); want 10, 9 late, none for want of a customer", res.turns, res.late, res.busy)
	}
	slices.Sort(res.latencies)
	if res.latencies[0] != 0 || res.latencies[1] != 3*time.Millisecond || res.latencies[9] != 3*time.Millisecond {
		t.Errorf("latencies %v, want 0 for the first turn and 3ms for the nine sent late", res.latencies)
	}
}

// TestOpenLoopTurnTimeoutFromSchedule: a bot stuck for 20 s on the fourth
// turn, with a 10 s turn timeout. That turn is answered too late and
// fails; the six due while it was stuck were more than a turn timeout
// overdue before the one customer was free, so they are never sent and
// fail too. Nothing is left out of the account.
func TestOpenLoopTurnTimeoutFromSchedule(t *testing.T) {
	g := startTestGraph(t)
	clk := newFakeClock()
	bot := newFakeBot(t, g, []byte("test-secret"), func(n int) {
		if n == 4 {
			clk.Advance(20 * time.Second)
		}
	})
	res, err := driveOpen(t.Context(), openConfig(g, bot, 100, 100*time.Millisecond, 1), clk)
	if err != nil {
		t.Fatal(err)
	}
	if res.offered != 10 || res.turns != 3 || res.failed != 7 || res.unsent != 6 || res.late != 0 || res.conversations != 0 {
		t.Errorf("offered %d, carried %d, failed %d, never sent %d, late %d, conversations %d; want 10, 3, 7, 6, 0, 0",
			res.offered, res.turns, res.failed, res.unsent, res.late, res.conversations)
	}
	if bot.webhooks() != 4 {
		t.Errorf("the bot got %d webhooks, want 4 (the overdue turns are not sent)", bot.webhooks())
	}
	// The three turns before the stall were each sent when due: the
	// customer slept from one to the next.
	if got := clk.sleeps(); !slices.Equal(got, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}) {
		t.Errorf("slept %v, want 10ms three times", got)
	}
}

// TestWebhookTemplate: a body built from the template is the bytes
// whatsapptest.TextWebhook builds for the same customer, id and time.
func TestWebhookTemplate(t *testing.T) {
	at := time.Unix(1_764_400_000, 0)
	for k, turn := range script {
		tpl, err := newWebhookTemplate(turn.text)
		if err != nil {
			t.Fatal(err)
		}
		from, id := fmt.Sprintf("1999%08d", k+1), fmt.Sprintf("wamid.LGO%d", 100+k)
		got := tpl.fill(nil, from, id, at)
		if want := whatsapptest.TextWebhook(phoneNumberID, from, id, turn.text, at); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", turn.text, got, want)
		}
	}
}
