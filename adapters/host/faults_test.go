package host_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// lostAcks is the session store with every acknowledgement lost: what a
// crash right after the sends leaves behind.
type lostAcks struct{ *session.Store }

var errCrashed = errors.New("injected: the process died before the acknowledgement was written")

func (lostAcks) OutboxAck(context.Context, []session.Ack) error { return errCrashed }
func (lostAcks) OutboxDoneMany(context.Context, []uint64) error { return errCrashed }
func (lostAcks) OutboxDone(context.Context, uint64) error       { return errCrashed }

// TestReplayedRepliesNeverFollowANewerOne: two turns' replies are sent but
// their acknowledgements are lost (a crash), then a new host starts on the
// same vault. The customer may see the last reply sent before the crash
// twice, but never an older reply after a newer one (T2, T3, T2, T3).
func TestReplayedRepliesNeverFollowANewerOne(t *testing.T) {
	r := newRig(t)
	defer r.vault.Close()
	const user = "user-replay"
	first := newFake()
	ctx, cancel := context.WithCancel(t.Context())
	h, err := host.New(host.Config{Store: lostAcks{r.store}, Engine: &runtime.Engine{Lookup: r.flows.Get, Store: r.store}})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(first, "booking")
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.accept(t, h, user, "in-1", "hi")
	first.waitSent(t, user, 1)
	r.accept(t, h, user, "in-2", "YES")
	stopCtx, stopCancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer stopCancel()
	h.Stop(stopCtx) // the turn is committed; what was sent is not acknowledged
	cancel()
	h.Wait()

	second := newFake()
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	h2 := r.host(t, ctx2, second)
	want := second.waitSent(t, user, 3)
	if err := h2.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Commit order of the three replies: greeting, consent, name question.
	seen := append(first.waitSent(t, user, 1), want...)
	order := map[string]int{}
	for i, s := range want {
		order[s.Text] = i
	}
	if len(order) != 3 {
		t.Fatalf("the new host did not send the three replies in order: %q", second.sent)
	}
	for i := 1; i < len(seen); i++ {
		if order[seen[i].Text] < order[seen[i-1].Text] {
			t.Fatalf("an older reply arrived after a newer one: %q", seen)
		}
	}
	if v := counter(t, h2.Metrics().DuplicateSends); v != float64(len(seen)-3) {
		t.Errorf("possible duplicates counted = %v, want %d (the replies sent twice)", v, len(seen)-3)
	}
}

// TestHostMemoryFollowsActiveConversations: after many customers' turns
// complete, the host holds nothing per customer or per message in memory
// (statuses and windows are in the store, or gone with the send queue).
func TestHostMemoryFollowsActiveConversations(t *testing.T) {
	r := newRig(t)
	defer r.vault.Close()
	fake := newFake()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := r.host(t, ctx, fake)
	const customers = 200
	for i := range customers {
		r.accept(t, h, fmt.Sprintf("user-%d", i), fmt.Sprintf("in-%d", i), "hi")
	}
	for i := range customers {
		fake.waitSent(t, fmt.Sprintf("user-%d", i), 2)
	}
	if err := h.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(t.Context()); err != nil { // waits for the last acknowledgements
		t.Fatal(err)
	}
	if queues, messages := h.Tracked(); queues != 0 || messages != 0 {
		t.Errorf("after %d customers' turns the host holds %d send queues and %d message marks, want none", customers, queues, messages)
	}
	out, err := r.store.OutboxPending(t.Context())
	if err != nil || len(out) != 0 {
		t.Errorf("outbox pending %d, %v; want none", len(out), err)
	}
}

// failingTurns is the session store with turn commits failing while broken
// is set (a disk that fails after the message was stored).
type failingTurns struct {
	*session.Store
	broken chan struct{} // open: failing; closed: recovered
	failed chan struct{} // one send per refused commit
}

func (f *failingTurns) SaveTurn(ctx context.Context, subject string, st *runtime.State, effects []runtime.Effect, now time.Time, x session.Extra) ([]uint64, error) {
	select {
	case <-f.broken:
		return f.Store.SaveTurn(ctx, subject, st, effects, now, x)
	default:
		f.failed <- struct{}{}
		return nil, errors.New("injected: no space left on device")
	}
}

// TestFailedCommitRecoversByItself: a turn whose commit fails leaves the
// message in the inbox and the host unready; once the disk recovers, the
// inbox rescan runs the turn and the host is ready again.
func TestFailedCommitRecoversByItself(t *testing.T) {
	r := newRig(t)
	defer r.vault.Close()
	fs := &failingTurns{Store: r.store, broken: make(chan struct{}), failed: make(chan struct{}, 8)}
	fake := newFake()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h, err := host.New(host.Config{Store: fs, Engine: &runtime.Engine{Lookup: r.flows.Get, Store: fs}, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(fake, "booking")
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.accept(t, h, "user-disk", "in-1", "hi")
	// A second customer's turn runs on the same (only) worker after the
	// first one's failure was handled: waiting for it to reach its commit
	// orders the test after the first failure without sleeping.
	r.accept(t, h, "user-other", "in-2", "hi")
	<-fs.failed
	<-fs.failed
	if err := h.Ready(); err == nil {
		t.Fatal("Ready with failing commits = nil, want an error")
	}
	fake.mu.Lock()
	got := len(fake.sent)
	fake.mu.Unlock()
	if got != 0 {
		t.Fatalf("%d replies sent for turns that were not committed", got)
	}
	close(fs.broken) // the disk recovers
	if err := h.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	fake.waitSent(t, "user-disk", 2)
	if err := h.Ready(); err != nil {
		t.Errorf("Ready after the disk recovered = %v, want nil", err)
	}
}

// idChannel is the fake channel that also keeps the ids its sends return.
type idChannel struct {
	*fakeChannel
	ids chan string
}

func (c idChannel) Send(ctx context.Context, out host.Outbound) (string, error) {
	id, err := c.fakeChannel.Send(ctx, out)
	if err == nil {
		c.ids <- id
	}
	return id, err
}

// TestDeliveryStatusesSurviveARestart: the status of a sent reply is kept
// in the store, not in the process: after a restart a "read" for it is
// known, and a later "delivered" neither counts as unknown nor regresses.
func TestDeliveryStatusesSurviveARestart(t *testing.T) {
	r := newRig(t)
	ch := idChannel{fakeChannel: newFake(), ids: make(chan string, 8)}
	ctx, cancel := context.WithCancel(t.Context())
	h := r.host(t, ctx, ch)
	r.accept(t, h, "user-st", "in-1", "hi")
	ch.waitSent(t, "user-st", 2)
	if err := h.Stop(t.Context()); err != nil { // the acknowledgements are written
		t.Fatal(err)
	}
	cancel()
	h.Wait()
	if err := r.vault.Close(); err != nil {
		t.Fatal(err)
	}
	r.open(t)
	defer r.vault.Close()
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	h2 := r.host(t, ctx2, ch)
	first := <-ch.ids
	h2.Status("fake", host.DeliveryStatus{ID: first, Status: "read"})
	h2.Status("fake", host.DeliveryStatus{ID: first, Status: "delivered"})
	h2.Status("fake", host.DeliveryStatus{ID: "never-sent", Status: "read"})
	m := h2.Metrics().Statuses
	if got := counter(t, m.WithLabelValues("unknown")); got != 1 {
		t.Errorf("unknown statuses after a restart = %v, want 1 (only the id never sent)", got)
	}
	if got := counter(t, m.WithLabelValues("read")); got != 1 {
		t.Errorf("read statuses after a restart = %v, want 1", got)
	}
	u, known, err := r.store.DeliveryStatus(t.Context(), "fake\x00"+first, "sent")
	if err != nil || !known || u.Status != "read" {
		t.Errorf("stored status = %+v (known %v, %v), want read", u, known, err)
	}
	h2.Stop(t.Context())
}

// downFree is a channel whose replies are all templates (Free: no window
// limits them) and whose sends always fail with a retryable error.
type downFree struct {
	*fakeChannel
	tries chan struct{}
}

func (c downFree) Render(to, lang string, m runtime.Message) []host.Outbound {
	out := c.fakeChannel.Render(to, lang, m)
	for i := range out {
		out[i].Free = true
	}
	return out
}

func (c downFree) Send(context.Context, host.Outbound) (string, error) {
	select {
	case c.tries <- struct{}{}:
	default:
	}
	return "", errFakeDown
}

func (c downFree) Classify(host.Outbound, error, int, time.Time) host.SendFailure {
	return host.SendFailure{Retry: true, Delay: time.Millisecond}
}

// TestRepliesNotBoundByAWindowAreGivenUpAfterTheirUsefulLife: a reply the
// channel's window does not bound is retried past any attempt count, and
// given up once it is MaxReplyAge old (by the host's clock).
func TestRepliesNotBoundByAWindowAreGivenUpAfterTheirUsefulLife(t *testing.T) {
	r := newRig(t)
	defer r.vault.Close()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ch := downFree{fakeChannel: newFake(), tries: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h, err := host.New(host.Config{Store: r.store, Engine: &runtime.Engine{Lookup: r.flows.Get, Store: r.store, Now: clock}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(ch, "booking")
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	dup, err := h.Accept(t.Context(), "fake", "user-tpl", host.Message{ID: "in-1", From: "user-tpl", Type: "text", Text: "hi", At: now.UnixNano()})
	if err != nil || dup {
		t.Fatalf("Accept = %v, %v", dup, err)
	}
	for range 20 { // well past the old 12 attempts
		<-ch.tries
	}
	mu.Lock()
	now = now.Add(host.MaxReplyAge + time.Minute)
	mu.Unlock()
	stopCtx, stopCancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer stopCancel()
	if err := h.Stop(stopCtx); err != nil { // lets the retries due now run
		t.Fatal(err)
	}
	if v := counter(t, h.Metrics().OutboxFailed); v != 2 {
		t.Errorf("replies given up = %v, want 2", v)
	}
	if out, err := r.store.OutboxPending(t.Context()); err != nil || len(out) != 0 {
		t.Errorf("outbox pending %d, %v; want none", len(out), err)
	}
}
