package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// The storage the host declares is what engine/session provides on the
// vault: the same assertions cmd/parley relies on.
var (
	_ host.Store     = (*session.Store)(nil)
	_ host.Inbox     = (*session.Store)(nil)
	_ host.Outbox    = (*session.Store)(nil)
	_ host.TurnStore = (*session.Store)(nil)
)

// fakeChannel is a whole channel in a few lines: the proof that a new
// channel is one package implementing host.Channel. Its requests are
// {"text": …}; it records what it sent and can fail sends on demand.
type fakeChannel struct {
	mu      sync.Mutex
	sent    []fakeSend
	changed chan struct{} // closed and replaced on every send
	fail    func(n int) error
	block   bool // Send waits for ctx to end (an outage)
	n       int
	// template, when set, is the re-engagement sent once the window has
	// closed (none: the reply is dropped).
	template string
}

type fakeSend struct {
	To, Text string
	ID       string // what Send returned
}

var errFakeDown = errors.New("fake channel: temporarily down")

func newFake() *fakeChannel { return &fakeChannel{changed: make(chan struct{})} }

func (f *fakeChannel) Name() string { return "fake" }

func (f *fakeChannel) Render(to, _ string, m runtime.Message) []host.Outbound {
	text := m.Text
	for _, o := range m.Options {
		text += "\n" + o.ID + ") " + o.Title
	}
	b, _ := json.Marshal(map[string]string{"text": text})
	return []host.Outbound{{To: to, Req: b}}
}

func (f *fakeChannel) Send(ctx context.Context, out host.Outbound) (string, error) {
	f.mu.Lock()
	f.n++
	n, fail, block := f.n, f.fail, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if fail != nil {
		if err := fail(n); err != nil {
			return "", err
		}
	}
	var req struct{ Text string }
	if err := json.Unmarshal(out.Req, &req); err != nil {
		return "", err
	}
	f.mu.Lock()
	id := fmt.Sprintf("fake-%d", n)
	f.sent = append(f.sent, fakeSend{To: out.To, Text: req.Text, ID: id})
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	return id, nil
}

func (f *fakeChannel) Classify(_ host.Outbound, err error, attempt int, _ time.Time) host.SendFailure {
	return host.SendFailure{Retry: errors.Is(err, errFakeDown) && attempt < 5, Delay: time.Millisecond}
}

func (f *fakeChannel) WindowOpen(time.Time, time.Time) bool { return true }

func (f *fakeChannel) Reengage(out host.Outbound, _ string) (host.Outbound, bool) {
	if f.template == "" {
		return host.Outbound{}, false
	}
	b, _ := json.Marshal(map[string]string{"text": f.template})
	return host.Outbound{To: out.To, Req: b, Free: true}, true
}

// waitSent waits until n messages went to user, or fails the test.
func (f *fakeChannel) waitSent(t *testing.T, user string, n int) []fakeSend {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		var got []fakeSend
		for _, s := range f.sent {
			if s.To == user {
				got = append(got, s)
			}
		}
		ch := f.changed
		f.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %d messages to %s; got %d", n, user, len(got))
		}
	}
}

var _ host.Channel = (*fakeChannel)(nil)

// rig is a host on an encrypted on-disk vault serving flows/booking.yaml.
type rig struct {
	vault *vault.Vault
	store *session.Store
	flows *server.Flows
	dir   string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	flows, report, err := server.LoadFlows("../../flows") // the shipped flows, booking.yaml among them
	if err != nil {
		t.Fatalf("LoadFlows: %v\n%s", err, report)
	}
	if _, ok := flows.Get("booking"); !ok {
		t.Fatal("flows/booking.yaml is not served")
	}
	r := &rig{flows: flows, dir: t.TempDir()}
	r.open(t)
	return r
}

func (r *rig) open(t *testing.T) {
	t.Helper()
	v, err := vault.Open(vault.Options{Dir: r.dir, MasterKey: bytes.Repeat([]byte{0x42}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	r.vault, r.store = v, session.New(v)
}

func (r *rig) host(t *testing.T, ctx context.Context, ch host.Channel) *host.Host {
	t.Helper()
	return r.hostLogging(t, ctx, ch, nil)
}

func (r *rig) hostLogging(t *testing.T, ctx context.Context, ch host.Channel, log *slog.Logger) *host.Host {
	t.Helper()
	h, err := host.New(host.Config{Store: r.store, Engine: &runtime.Engine{Lookup: r.flows.Get, Store: r.store}, Workers: 4, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(ch, "booking")
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

func (r *rig) accept(t *testing.T, h *host.Host, user, id, text string) {
	t.Helper()
	dup, err := h.Accept(t.Context(), "fake", user, host.Message{ID: id, From: user, Type: "text", Text: text, At: time.Now().UnixNano()})
	if err != nil || dup {
		t.Fatalf("Accept(%s) = dup %v, %v; want stored", id, dup, err)
	}
}

// Canary personal data (as in cmd/parley/privacy_test.go).
const (
	canaryName  = "Zephyrine Quillfeather"
	canaryEmail = "zq.canary@example.org"
	canaryUser  = "15550009876"
)

// booking is flows/booking.yaml's conversation and the replies each turn
// gets: greeting and consent, the name question, one re-prompt for a bad
// email, three dates, and the confirmation.
var booking = []struct {
	text    string
	replies int
}{
	{"hi", 2}, {"YES", 1}, {canaryName, 1}, {"not-an-email", 1}, {canaryEmail, 1}, {"2", 1},
}

func TestFakeChannelRunsTheBookingConversationThroughTheHost(t *testing.T) {
	r := newRig(t)
	defer r.vault.Close()
	fake := newFake()
	// The first send fails and is retried: the host's retry, the channel's
	// verdict.
	fake.fail = func(n int) error {
		if n == 1 {
			return errFakeDown
		}
		return nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	h := r.hostLogging(t, ctx, fake, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	want := 0
	var got []fakeSend
	for i, turn := range booking {
		r.accept(t, h, canaryUser, "in-"+string(rune('a'+i)), turn.text)
		want += turn.replies
		got = fake.waitSent(t, canaryUser, want)
	}
	if len(got) != 7 {
		t.Fatalf("%d messages sent, want 7: %q", len(got), got)
	}
	if !strings.Contains(strings.ToLower(got[1].Text), "yes") {
		t.Errorf("second reply %q does not ask for consent", got[1].Text)
	}
	if got[3].Text == got[4].Text || !strings.Contains(got[4].Text, "email") {
		t.Errorf("reply to a bad email %q is not a re-prompt for the email", got[4].Text)
	}
	if n := strings.Count(got[5].Text, "\n"); n != 3 {
		t.Errorf("date question %q offers %d options, want 3", got[5].Text, n)
	}
	last := got[6].Text
	for _, want := range []string{canaryName, canaryEmail} {
		if !strings.Contains(last, want) {
			t.Errorf("confirmation %q does not contain %q", last, want)
		}
	}
	date := strings.SplitN(strings.Split(got[5].Text, "\n")[2], ") ", 2)[1]
	if !strings.Contains(last, date) {
		t.Errorf("confirmation %q does not contain the chosen date %q", last, date)
	}
	if v := counter(t, h.Metrics().OutboxRetries); v != 1 {
		t.Errorf("retries = %v, want 1", v)
	}
	if v := counter(t, h.Metrics().Turns.WithLabelValues("fake")); v != 6 {
		t.Errorf("turns on the fake channel = %v, want 6", v)
	}
	// A redelivered message is a duplicate and runs no turn.
	dup, err := h.Accept(t.Context(), "fake", canaryUser, host.Message{ID: "in-a", From: canaryUser, Text: "hi"})
	if err != nil || !dup {
		t.Errorf("redelivered message: dup %v, %v; want a duplicate", dup, err)
	}
	in, err := r.store.InboxPending(t.Context())
	if err != nil || len(in) != 0 {
		t.Errorf("inbox pending after the conversation: %d, %v; want none", len(in), err)
	}
	// A number change is processed before Accept returns, and logged with
	// pseudonyms only.
	const newNumber = "15550009877"
	if dup, err := h.Accept(t.Context(), "fake", canaryUser, host.Message{ID: "in-z", From: canaryUser, NewFrom: newNumber}); err != nil || dup {
		t.Fatalf("number change: dup %v, %v", dup, err)
	}
	if !strings.Contains(logs.String(), "customer changed number") {
		t.Fatalf("number change not logged: %q", logs.String())
	}
	st, err := r.store.Load(t.Context(), r.store.Subject("fake", newNumber), time.Now())
	if err != nil || st == nil || st.Flow != "booking" {
		t.Errorf("conversation under the new number: %v, %v; want the booking conversation moved", st, err)
	}
	for _, canary := range []string{canaryName, canaryEmail, canaryUser, newNumber} {
		if strings.Contains(logs.String(), canary) {
			t.Errorf("host logs contain personal data %q", canary)
		}
	}
	// Stopping flushes the acknowledgements: nothing is left to send.
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	cancel()
	h.Wait()
	out, err := r.store.OutboxPending(t.Context())
	if err != nil || len(out) != 0 {
		t.Errorf("outbox pending after the conversation: %d, %v; want none", len(out), err)
	}

}

// TestHostRecoversRepliesAfterAnOutage commits a turn whose replies cannot
// be sent (the channel blocks until shutdown), stops, reopens the vault and
// starts a new host: the replies, stored with their channel, go out then;
// only the one whose send had started counts as a possible duplicate.
func TestHostRecoversRepliesAfterAnOutage(t *testing.T) {
	r := newRig(t)
	down := newFake()
	down.block = true
	ctx, cancel := context.WithCancel(t.Context())
	h := r.host(t, ctx, down)
	r.accept(t, h, "user-2", "in-1", "hi")
	// Stopping finishes queued turns; the sender stays blocked until the
	// context ends, so the outbox keeps both replies.
	stopCtx, stopCancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer stopCancel()
	h.Stop(stopCtx)
	cancel()
	h.Wait()
	pending, err := r.store.OutboxPending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Fatalf("outbox holds %d entries after the outage, want 2", len(pending))
	}
	for _, e := range pending {
		if !bytes.Contains(e.Payload, []byte(`"ch":"fake"`)) {
			t.Errorf("outbox entry %d does not carry its channel: %s", e.Seq, e.Payload)
		}
	}
	if err := r.vault.Close(); err != nil {
		t.Fatal(err)
	}
	r.open(t)
	defer r.vault.Close()
	up := newFake()
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	h2 := r.host(t, ctx2, up)
	got := up.waitSent(t, "user-2", 2)
	if err := h2.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(got[1].Text), "yes") {
		t.Errorf("recovered replies out of order: %q", got)
	}
	// Only the first reply's send had started (it may have reached the
	// customer); the second waited behind it and was never sent: one
	// possible duplicate, not every recovered entry.
	if v := counter(t, h2.Metrics().DuplicateSends); v != 1 {
		t.Errorf("possible duplicates counted = %v, want 1", v)
	}
}

// syncBuffer is an io.Writer safe for a slog handler used concurrently.
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

// counter reads a counter's value.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestStopEndsTheRescanBeforeClosingTheWorkers: a rescan that ran on after
// Stop closed the turn workers would submit to a closed queue and panic
// ("send on closed channel"). Stop ends the rescan loop first, without
// waiting for the host's context to end.
func TestStopEndsTheRescanBeforeClosingTheWorkers(t *testing.T) {
	r := newRig(t)
	defer r.vault.Close()
	h, err := host.New(host.Config{Store: r.store, Engine: &runtime.Engine{Lookup: r.flows.Get, Store: r.store},
		RescanEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(newFake(), "booking")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.accept(t, h, "user-3", "in-1", "hi")
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { h.Wait(); close(done) }()
	limit := time.NewTimer(10 * time.Second)
	defer limit.Stop()
	select {
	case <-done:
	case <-limit.C:
		t.Fatal("the inbox rescan still runs after Stop returned")
	}
}

// markCounter counts the host's separate "send starts" marks.
type markCounter struct {
	*session.Store
	mu    sync.Mutex
	marks int
}

func (m *markCounter) OutboxSending(ctx context.Context, seqs []uint64) error {
	m.mu.Lock()
	m.marks += len(seqs)
	m.mu.Unlock()
	return m.Store.OutboxSending(ctx, seqs)
}

// TestRepliesAreMarkedSendingWithoutAWriteOfTheirOwn: whenever a reply is
// handed to the channel, the outbox already records that its send started
// (after a crash it counts as possibly sent), but a conversation answered
// one turn at a time never needs a write of its own for that mark: the
// turn's commit stores its first reply as being sent, the acknowledgement
// of each reply marks the next.
func TestRepliesAreMarkedSendingWithoutAWriteOfTheirOwn(t *testing.T) {
	r := newRig(t)
	defer r.vault.Close()
	store := &markCounter{Store: r.store}
	fake := newFake()
	var bad []string
	fake.fail = func(n int) error {
		out, err := r.vault.OutboxPending()
		if err != nil || len(out) == 0 || out[0].Status != vault.OutboxSending {
			bad = append(bad, fmt.Sprintf("send %d: outbox %+v, %v", n, out, err))
		}
		return nil
	}
	h, err := host.New(host.Config{Store: store, Engine: &runtime.Engine{Lookup: r.flows.Get, Store: r.store}, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(fake, "booking")
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, turn := range booking {
		r.accept(t, h, canaryUser, "in-"+string(rune('a'+i)), turn.text)
		want += turn.replies
		fake.waitSent(t, canaryUser, want)
		// One turn at a time: the next message comes once the replies
		// are acknowledged (otherwise its first reply waits behind the
		// last one and is marked by a write of its own, as it must be).
		h.WaitSendsIdle()
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, b := range bad {
		t.Errorf("a reply was handed to the channel before its outbox entry was marked sending: %s", b)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.marks != 0 {
		t.Errorf("%d replies were marked sending by a write of their own, want 0 (the turn's commit or the previous reply's acknowledgement marks them)", store.marks)
	}
}
