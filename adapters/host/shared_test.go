package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
	"github.com/parleyhq/parley/engine/vault"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var _ host.SharedStore = (*session.Store)(nil)

// fakeClock is the one clock of every instance and store of a test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// instance is one process's view of a shared PostgreSQL database: its own
// connection pool, vault and host.
type instance struct {
	store *session.Store
	host  *host.Host
	fake  *fakeChannel
}

const testLease = time.Minute // by the fake clock; renewals come every 20 s of real time

// pgInstance opens a vault on url (as `parley serve --store` does) and, when
// start, a host on it with fake as its channel (a new one when nil).
func pgInstance(t *testing.T, url string, clock *fakeClock, start bool, fake *fakeChannel) *instance {
	t.Helper()
	if fake == nil {
		fake = newFake()
	}
	st, err := postgres.Open(context.Background(), postgres.Options{URL: url, Now: clock.Now})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	v, err := vault.Open(vault.Options{Store: st, MasterKey: bytes.Repeat([]byte{0x42}, 32), Now: clock.Now})
	if err != nil {
		t.Fatalf("vault.Open on PostgreSQL: %v", err)
	}
	in := &instance{store: session.New(v), fake: fake}
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("instance log:\n%s", logs.String())
		}
		if in.host != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			in.host.Stop(sctx)
			scancel()
		}
		cancel()
		v.Close()
		st.Close()
	})
	if !start {
		return in
	}
	flows := newRig(t).flows
	h, err := host.New(host.Config{Store: in.store, Engine: &runtime.Engine{Lookup: flows.Get, Store: in.store, Now: clock.Now},
		Workers: 4, Senders: 4, Now: clock.Now, Lease: testLease, ClaimEvery: 5 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(in.fake, "booking")
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	in.host = h
	return in
}

func (in *instance) accept(t *testing.T, user, id, text string, at time.Time) {
	t.Helper()
	dup, err := in.host.Accept(t.Context(), "fake", user, host.Message{ID: id, From: user, Type: "text", Text: text, At: at.UnixNano()})
	if err != nil || dup {
		t.Fatalf("Accept(%s) = dup %v, %v; want stored", id, dup, err)
	}
}

// sentTo returns what the instance's channel sent to user, in send order.
func sentTo(user string, in *instance) (all []string) {
	in.fake.mu.Lock()
	defer in.fake.mu.Unlock()
	for _, s := range in.fake.sent {
		if s.To == user {
			all = append(all, s.Text)
		}
	}
	return all
}

// TestTwoInstancesShareOneConversation runs the booking conversation on two
// hosts on one PostgreSQL database, each message accepted by the other
// instance than the one before: every turn runs once, in order, whichever
// instance claims it, and each reply is sent once, by one instance.
func TestTwoInstancesShareOneConversation(t *testing.T) {
	url := pgtest.URL(t)
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	// One channel for both: what it sent is in the order it was sent,
	// whichever instance sent it.
	fake := newFake()
	a, b := pgInstance(t, url, clock, true, fake), pgInstance(t, url, clock, true, fake)
	want := 0
	for i, turn := range booking {
		in := []*instance{a, b}[i%2]
		in.accept(t, canaryUser, fmt.Sprintf("in-%d", i), turn.text, clock.Now())
		want += turn.replies
		fake.waitSent(t, canaryUser, want)
	}
	// The redelivery of a message to the other instance is a duplicate
	// there: dedupe lives in the database.
	if dup, err := b.host.Accept(t.Context(), "fake", canaryUser, host.Message{ID: "in-0", From: canaryUser, Text: "hi"}); err != nil || !dup {
		t.Errorf("message redelivered to the other instance: dup %v, %v; want a duplicate", dup, err)
	}
	a.host.Stop(t.Context())
	b.host.Stop(t.Context())
	got := sentTo(canaryUser, a)
	if len(got) != 7 {
		t.Fatalf("%d replies sent, want the 7 of the booking script once each: %q", len(got), got)
	}
	if last := got[6]; !strings.Contains(last, canaryName) || !strings.Contains(last, canaryEmail) {
		t.Errorf("last reply %q is not the confirmation with the name and the email", last)
	}
	turns := counter(t, a.host.Metrics().Turns.WithLabelValues("fake")) + counter(t, b.host.Metrics().Turns.WithLabelValues("fake"))
	if turns != 6 {
		t.Errorf("turns run by the two instances: %v, want 6", turns)
	}
	for _, in := range []*instance{a, b} {
		if d := counter(t, in.host.Metrics().DuplicateSends); d != 0 {
			t.Errorf("duplicate sends counted without a crash: %v", d)
		}
	}
}

// TestClaimsOfADeadInstanceAreTakenOverAfterTheLease: a process claims a
// customer's message and, separately, another customer's reply whose send
// it starts, then dies (it never comes back to them). A live instance
// leaves both alone while the leases hold, takes them over once the fake
// clock passes the lease, runs the turn and sends the reply, counting that
// reply as a possible duplicate; the dead process's late commit is refused.
func TestClaimsOfADeadInstanceAreTakenOverAfterTheLease(t *testing.T) {
	url := pgtest.URL(t)
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	dead := pgInstance(t, url, clock, false, nil)
	ctx := t.Context()

	// Customer 2's greeting reply is committed and its send started by
	// the dead process: a turn through the store's own entry points.
	const user2 = "15550001111"
	sub2 := dead.store.Subject("fake", user2)
	if _, err := dead.store.InboxPut(ctx, "m2", sub2, []byte(`{"ch":"fake","id":"m2","from":"15550001111","type":"text","text":"hi"}`), clock.Now()); err != nil {
		t.Fatal(err)
	}
	ic, err := dead.store.ClaimInbox(ctx, "dead", 10, testLease)
	if err != nil || len(ic) != 1 {
		t.Fatalf("ClaimInbox = %d claims, %v; want customer 2's message", len(ic), err)
	}
	reply := []byte(`{"ch":"fake","to":"15550001111","req":{"text":"reply to customer 2"},"in":` + fmt.Sprint(clock.Now().UnixNano()) + `}`)
	if _, err := dead.store.Commit(ctx, sub2, session.Extra{Outbox: [][]byte{reply}, InboxDone: "m2", Lease: &ic[0].Lease}); err != nil {
		t.Fatalf("commit with the claim: %v", err)
	}
	oc, err := dead.store.ClaimOutbox(ctx, "dead", 10, testLease)
	if err != nil || len(oc) != 1 {
		t.Fatalf("ClaimOutbox = %d claims, %v; want customer 2's reply", len(oc), err)
	}
	if err := dead.store.OutboxSending(ctx, []uint64{oc[0].Entry.Seq}); err != nil {
		t.Fatal(err)
	}

	// Customer 1's message is claimed by the dead process and never
	// processed.
	sub1 := dead.store.Subject("fake", canaryUser)
	if _, err := dead.store.InboxPut(ctx, "m1", sub1, []byte(`{"ch":"fake","id":"m1","from":"`+canaryUser+`","type":"text","text":"hi","at":`+fmt.Sprint(clock.Now().UnixNano())+`}`), clock.Now()); err != nil {
		t.Fatal(err)
	}
	ic, err = dead.store.ClaimInbox(ctx, "dead", 10, testLease)
	if err != nil || len(ic) != 1 || ic[0].Entry.MsgID != "m1" {
		t.Fatalf("ClaimInbox = %+v, %v; want customer 1's message", ic, err)
	}
	deadLease := ic[0].Lease

	live := pgInstance(t, url, clock, true, nil)
	// A third customer's conversation goes through at once: the live
	// instance is claiming, and skipping the two leased conversations.
	const user3 = "15550003333"
	live.accept(t, user3, "m3", "hi", clock.Now())
	live.fake.waitSent(t, user3, 2)
	// Acknowledged: the live instance holds no claim when the clock jumps
	// past the lease (one it held would be taken over too).
	waitAcked(t, live.store, live.store.Subject("fake", user3))
	if got := sentTo(canaryUser, live); len(got) != 0 {
		t.Fatalf("customer 1's message was run while the dead process's lease held: %q", got)
	}
	if got := sentTo(user2, live); len(got) != 0 {
		t.Fatalf("customer 2's reply was sent while the dead process's lease held: %q", got)
	}

	clock.Add(testLease + time.Second)
	live.fake.waitSent(t, canaryUser, 2) // greeting and consent question
	got := live.fake.waitSent(t, user2, 1)
	if got[0].Text != "reply to customer 2" {
		t.Errorf("customer 2 got %q, want the reply the dead process had started sending", got[0].Text)
	}
	m := live.host.Metrics()
	if v := counter(t, m.Takeovers.WithLabelValues("inbox")); v != 1 {
		t.Errorf("inbox takeovers = %v, want 1", v)
	}
	if v := counter(t, m.Takeovers.WithLabelValues("outbox")); v != 1 {
		t.Errorf("outbox takeovers = %v, want 1", v)
	}
	if v := counter(t, m.DuplicateSends); v != 1 {
		t.Errorf("duplicate sends = %v, want 1 (the reply whose send had started)", v)
	}

	// The dead process wakes up and commits its turn: refused, nothing of
	// it is written.
	_, err = dead.store.Commit(ctx, sub1, session.Extra{Outbox: [][]byte{[]byte(`{"ch":"fake","req":{"text":"late"}}`)}, InboxDone: "m1", Lease: &deadLease})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("late commit under a lost lease = %v, want store.ErrLeaseLost", err)
	}
	live.host.Stop(ctx)
	if got := sentTo(canaryUser, live); len(got) != 2 {
		t.Errorf("customer 1 got %q, want the greeting and the consent question once", got)
	}
	pending, err := live.store.OutboxPending(ctx)
	if err != nil || len(pending) != 0 {
		t.Errorf("outbox after the run: %d entries, %v; want none (the late commit wrote nothing)", len(pending), err)
	}
}

// TestWindowClosedOnOneInstanceHoldsOnAnother: the channel reports to one
// instance that a customer's window has closed (a failed delivery, 131047);
// replies of the same turn sent afterwards by the other instance are
// replaced by the re-engagement once, and dropped after it, because the
// window state is in the database. When the customer writes again the
// window is open, on every instance.
func TestWindowClosedOnOneInstanceHoldsOnAnother(t *testing.T) {
	url := pgtest.URL(t)
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	fake := newFake()
	fake.template = "TEMPLATE: shall we go on?"
	a, b := pgInstance(t, url, clock, true, fake), pgInstance(t, url, clock, true, fake)
	ctx := t.Context()

	hiAt := clock.Now()
	a.accept(t, canaryUser, "w1", "hi", hiAt)
	got := fake.waitSent(t, canaryUser, 2)
	waitAcked(t, a.store, "")
	b.host.Status("fake", host.DeliveryStatus{ID: got[1].ID, Status: "failed", CloseWindow: true})
	if v := counter(t, b.host.Metrics().WindowClosed); v != 1 {
		t.Fatalf("window-closed reports on b = %v, want 1", v)
	}

	// Two more replies of the "hi" turn are committed; whichever instance
	// sends them must know the window closed.
	subject := a.store.Subject("fake", canaryUser)
	reply := func(text string) []byte {
		return []byte(fmt.Sprintf(`{"ch":"fake","to":%q,"req":{"text":%q},"in":%d,"flow":"booking","q":%d}`,
			canaryUser, text, hiAt.UnixNano(), clock.Now().UnixNano()))
	}
	if _, err := a.store.Commit(ctx, subject, session.Extra{Outbox: [][]byte{reply("late 1"), reply("late 2")}}); err != nil {
		t.Fatal(err)
	}
	// The customer writes again: the window is open for that turn's replies.
	// (Less than a lease later: claims being worked on stay held.)
	clock.Add(time.Second)
	b.accept(t, canaryUser, "w2", "YES", clock.Now())
	fake.waitSent(t, canaryUser, 4)
	waitAcked(t, a.store, "")
	a.host.Stop(ctx)
	b.host.Stop(ctx)
	texts := sentTo(canaryUser, a)
	if len(texts) != 4 || texts[2] != fake.template || !strings.Contains(texts[3], "name") {
		t.Errorf("sent %q; want the greeting, the consent question, the re-engagement once instead of the two late replies, then the name question", texts)
	}
	for _, s := range texts {
		if strings.HasPrefix(s, "late") {
			t.Errorf("%q was sent after the channel said the window closed", s)
		}
	}
}

// waitAcked waits until the outbox holds no reply of subject (of anyone:
// ""): the replies the channel accepted are acknowledged, in batches, just
// after their sends.
func waitAcked(t *testing.T, st *session.Store, subject string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pending, err := st.OutboxPending(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range pending {
			if subject == "" || e.Subject == subject {
				n++
			}
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replies still unacknowledged after 30 s", len(pending))
		}
		<-tick.C
	}
}

// TestNumberChangeOnOneInstanceIsSeenByAnother: a customer changes number
// in the middle of a conversation; the notice reaches one instance and the
// customer's next message, from the new number, another. Accept of the
// notice returns once the conversation has moved, so that message carries
// the conversation on instead of starting a new one.
func TestNumberChangeOnOneInstanceIsSeenByAnother(t *testing.T) {
	url := pgtest.URL(t)
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	fake := newFake()
	a, b := pgInstance(t, url, clock, true, fake), pgInstance(t, url, clock, true, fake)
	want := 0
	for i, turn := range booking[:3] { // hi, YES, the name: the email question is next
		a.accept(t, canaryUser, fmt.Sprintf("n%d", i), turn.text, clock.Now())
		want += turn.replies
		fake.waitSent(t, canaryUser, want)
	}
	const newNumber = "15550004444"
	if dup, err := b.host.Accept(t.Context(), "fake", canaryUser, host.Message{ID: "n-change", From: canaryUser, NewFrom: newNumber, At: clock.Now().UnixNano()}); err != nil || dup {
		t.Fatalf("number change: dup %v, %v", dup, err)
	}
	a.accept(t, newNumber, "n-new", canaryEmail, clock.Now())
	got := fake.waitSent(t, newNumber, 1)
	if n := strings.Count(got[0].Text, "\n"); n != 3 {
		t.Errorf("first reply to the new number %q; want the date question (the conversation moved before it ran)", got[0].Text)
	}
}

// TestMessageStoredBeforeSharingIsAnswered: a message an older Parley
// stored on the database (a record without a queue entry) is answered by
// the first host that starts on it.
func TestMessageStoredBeforeSharingIsAnswered(t *testing.T) {
	url := pgtest.URL(t)
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	old := pgInstance(t, url, clock, false, nil)
	ctx := t.Context()
	sub := old.store.Subject("fake", canaryUser)
	if _, err := old.store.InboxPut(ctx, "old-1", sub, []byte(`{"ch":"fake","id":"old-1","from":"`+canaryUser+`","type":"text","text":"hi","at":`+fmt.Sprint(clock.Now().UnixNano())+`}`), clock.Now()); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(ctx, postgres.Options{URL: url, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Update(ctx, func(x store.Txn) error { _, err := x.DeletePartition(vault.QueueInbox, sub); return err })
	if err != nil {
		t.Fatal(err)
	}
	live := pgInstance(t, url, clock, true, nil)
	if got := live.fake.waitSent(t, canaryUser, 2); !strings.Contains(got[0].Text, "Hi") {
		t.Errorf("first reply %q, want the greeting", got[0].Text)
	}
}
