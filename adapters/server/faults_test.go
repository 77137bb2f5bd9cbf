package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// The fault tests of issue 9 item 5: a failing data directory, shutdown
// during a Graph API outage, retries, one customer's backoff, delivery
// statuses. Failures are injected (a store wrapper, the fake Graph API on
// loopback); nothing sleeps to wait for work.

var errDiskFailing = errors.New("injected: read-only file system")

// failingStore is the session store with its writes failing while broken
// is set: a read-only or full data directory, as the host sees it.
type failingStore struct {
	*session.Store
	broken atomic.Bool
	failed atomic.Int64 // writes refused
}

func (f *failingStore) fail() error {
	if f.broken.Load() {
		f.failed.Add(1)
		return errDiskFailing
	}
	return nil
}

func (f *failingStore) InboxPutBatch(ctx context.Context, items []session.InboxItem, now time.Time) ([]bool, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.InboxPutBatch(ctx, items, now)
}

func (f *failingStore) SaveTurn(ctx context.Context, subject string, st *runtime.State, effects []runtime.Effect, now time.Time, x session.Extra) ([]uint64, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.SaveTurn(ctx, subject, st, effects, now, x)
}

func (f *failingStore) OutboxAck(ctx context.Context, acks []session.Ack) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.OutboxAck(ctx, acks)
}

// TestFailingDataDirectoryAnswers5xxAndRecovers: while every write fails the
// server keeps running, answers webhooks 500 (Meta redelivers), reports
// unready on /readyz and still answers /healthz; once writes succeed
// again the redelivered message runs its turn and /readyz is ready, with
// no restart.
func TestFailingDataDirectoryAnswers5xxAndRecovers(t *testing.T) {
	var fs *failingStore
	e := newEnv(t, envOptions{store: func(s *session.Store) server.Backend {
		fs = &failingStore{Store: s}
		return fs
	}})
	if st, _ := e.get(t, "/readyz"); st != http.StatusOK {
		t.Fatalf("/readyz before the fault = %d, want 200", st)
	}
	fs.broken.Store(true)
	hi := textWebhook(testUser, "wamid.RO1", "hi", time.Now())
	for range 3 { // Meta redelivers; each attempt fails the same way
		if st := e.post(t, hi); st != http.StatusInternalServerError {
			t.Fatalf("webhook with a failing data directory = %d, want 500", st)
		}
	}
	if fs.failed.Load() == 0 {
		t.Fatal("the injected fault was never reached")
	}
	if st, body := e.get(t, "/readyz"); st != http.StatusServiceUnavailable || strings.Contains(body, errDiskFailing.Error()) {
		t.Errorf("/readyz with a failing data directory = %d %q, want 503 without the error text", st, body)
	}
	if st, _ := e.get(t, "/healthz"); st != http.StatusOK {
		t.Errorf("/healthz with a failing data directory = %d, want 200 (the process lives)", st)
	}
	fs.broken.Store(false) // the disk recovers
	if st := e.post(t, hi); st != http.StatusOK {
		t.Fatalf("redelivery after the disk recovered = %d, want 200", st)
	}
	e.graph.waitDelivered(t, testUser, 2)
	if st, _ := e.get(t, "/readyz"); st != http.StatusOK {
		t.Errorf("/readyz after the disk recovered = %d, want 200", st)
	}
}

// TestDiskGuardRefusesWritesUntilSpaceReturns: while the disk guard says
// the data directory is nearly full, nothing is written, webhooks are
// answered 500 and /readyz is unready; once space returns the redelivery
// runs its turn.
func TestDiskGuardRefusesWritesUntilSpaceReturns(t *testing.T) {
	var full atomic.Bool
	e := newEnv(t, envOptions{canWrite: func() error {
		if full.Load() {
			return errors.New("injected: 12 MiB free, below the 64 MiB margin")
		}
		return nil
	}})
	full.Store(true)
	hi := textWebhook(testUser, "wamid.FULL1", "hi", time.Now())
	if st := e.post(t, hi); st != http.StatusInternalServerError {
		t.Fatalf("webhook with the disk nearly full = %d, want 500", st)
	}
	if st, _ := e.get(t, "/readyz"); st != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the disk nearly full = %d, want 503", st)
	}
	if got := e.stats(t).InboxPending; got != 0 {
		t.Errorf("inbox holds %d entries written past the guard, want 0", got)
	}
	full.Store(false)
	if st := e.post(t, hi); st != http.StatusOK {
		t.Fatalf("redelivery once space returned = %d, want 200", st)
	}
	e.graph.waitDelivered(t, testUser, 2)
	if st, _ := e.get(t, "/readyz"); st != http.StatusOK {
		t.Errorf("/readyz once space returned = %d, want 200", st)
	}
}

// TestShutdownDuringAGraphOutageFinishesInTime: the Graph API hangs, a
// backlog fills the sending and turn queues (one worker each, depth 2),
// and Shutdown must still return by its deadline; the replies stay in the
// outbox for the next start.
func TestShutdownDuringAGraphOutageFinishesInTime(t *testing.T) {
	outage, first := make(chan struct{}), make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(outage) }) }
	e := newEnv(t, envOptions{workers: 1, queue: 2, senders: 1,
		before: func(n int, _ map[string]any) {
			if n == 1 {
				close(first)
			}
			<-outage
		}})
	t.Cleanup(end)
	const customers = 6
	for i := range customers {
		user := fmt.Sprintf("1555000%04d", i)
		if st := e.post(t, textWebhook(user, "wamid.SD"+user, "hi", time.Now())); st != http.StatusOK {
			t.Fatalf("webhook %d = %d", i, st)
		}
	}
	<-first // the first send hangs in the outage
	const timeout = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e.stopped = true
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- e.srv.Shutdown(ctx) }()
	limit := time.NewTimer(15 * time.Second)
	defer limit.Stop()
	select {
	case <-done:
	case <-limit.C:
		end()
		t.Fatalf("Shutdown still running %s after a %s deadline", time.Since(start), timeout)
	}
	if took := time.Since(start); took > timeout+2*time.Second {
		t.Errorf("Shutdown took %s with a %s deadline", took, timeout)
	}
	end()
	if st := e.stats(t); st.OutboxPending == 0 && st.InboxPending == 0 {
		t.Error("nothing left for the next start: the backlog was lost")
	}
}

// TestRepliesAreRetriedWhileTheWindowIsOpen: a Graph outage longer than
// the old 12 attempts loses no reply; a reply still failing when the
// customer's window closes is given up (no template configured).
func TestRepliesAreRetriedWhileTheWindowIsOpen(t *testing.T) {
	const failFirst = 30
	e := newEnv(t, envOptions{fail: func(n int, _ map[string]any) (int, string) {
		if n <= failFirst {
			return http.StatusServiceUnavailable, `{"error":{"message":"try later","code":131000}}`
		}
		return 0, ""
	}})
	if st := e.post(t, textWebhook(testUser, "wamid.LONG1", "hi", time.Now())); st != http.StatusOK {
		t.Fatalf("webhook = %d", st)
	}
	e.graph.waitDelivered(t, testUser, 2)
	if got := e.metric(t, "parley_outbox_failed_total"); got != "0" {
		t.Errorf("parley_outbox_failed_total = %q after a long outage, want 0", got)
	}

	clock := newManualClock()
	down := newEnv(t, envOptions{now: clock.Now, fail: func(int, map[string]any) (int, string) {
		return http.StatusServiceUnavailable, `{"error":{"message":"try later","code":131000}}`
	}})
	if st := down.post(t, textWebhook(testUser, "wamid.LONG2", "hi", clock.Now())); st != http.StatusOK {
		t.Fatalf("webhook = %d", st)
	}
	down.graph.waitFor(t, "more than 12 attempts", func() bool { return len(down.graph.all()) > 12 })
	clock.Add(24 * time.Hour) // the window has closed
	down.shutdown(t)          // lets the retries due now run
	if got := down.metric(t, "parley_outbox_failed_total"); got != "2" {
		t.Errorf("parley_outbox_failed_total = %q once the window closed, want 2", got)
	}
	if st := down.stats(t); st.OutboxPending != 0 {
		t.Errorf("outbox pending %d after the window closed, want 0", st.OutboxPending)
	}
}

// TestOneCustomersBackoffNeverDelaysAnother: with a single sending worker,
// a customer whose replies wait an hour for their retry does not hold up
// another customer's replies.
func TestOneCustomersBackoffNeverDelaysAnother(t *testing.T) {
	const slow, quick = "15550001111", "15550002222"
	e := newEnv(t, envOptions{senders: 1,
		retry: func(err error, attempt int) (time.Duration, bool) {
			_, retry := fastRetry(err, attempt)
			return time.Hour, retry
		},
		fail: func(_ int, body map[string]any) (int, string) {
			if body["to"] == slow {
				return http.StatusServiceUnavailable, `{"error":{"message":"try later","code":131000}}`
			}
			return 0, ""
		}})
	if st := e.post(t, textWebhook(slow, "wamid.BO1", "hi", time.Now())); st != http.StatusOK {
		t.Fatalf("webhook = %d", st)
	}
	e.graph.waitFor(t, "the slow customer's first attempt", func() bool { return len(e.graph.all()) >= 1 })
	if st := e.post(t, textWebhook(quick, "wamid.BO2", "hi", time.Now())); st != http.StatusOK {
		t.Fatalf("webhook = %d", st)
	}
	e.graph.waitDelivered(t, quick, 2)
	if n := len(e.graph.deliveredTo(slow)); n != 0 {
		t.Errorf("the failing customer got %d replies", n)
	}
}

// TestDeliveryStatusesAreKeptAndNeverRegress: statuses of sent replies are
// kept in the vault: a late "delivered" after "read" is known (not
// "unknown") and does not regress; errors Meta puts in statuses and in the
// value are logged by code (no personal data) and counted.
func TestDeliveryStatusesAreKeptAndNeverRegress(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, envOptions{logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if st := e.post(t, textWebhook(testUser, "wamid.ST1", "hi", time.Now())); st != http.StatusOK {
		t.Fatalf("webhook = %d", st)
	}
	e.graph.waitDelivered(t, testUser, 2)
	for _, st := range []string{"sent", "read", "delivered"} {
		if got := e.post(t, statusWebhook("wamid.OUT1", st, testUser, 0)); got != http.StatusOK {
			t.Fatalf("status callback: %d", got)
		}
	}
	e.wantMetrics(t, map[string]string{
		`parley_status_callbacks_total{status="read"}`:      "1",
		`parley_status_callbacks_total{status="delivered"}`: "1",
		`parley_status_callbacks_total{status="unknown"}`:   "",
	})
	u, known, err := session.New(e.vault).DeliveryStatus(t.Context(), "whatsapp\x00wamid.OUT1", "failed")
	if err != nil || !known || u.Status != "read" {
		t.Errorf("stored status after sent, read, delivered, failed = %+v (known %v, %v); want read", u, known, err)
	}
	// A failed 131047 on the second reply (acknowledged before the next
	// turn's reply went out), and a value-level error.
	if st := e.post(t, textWebhook(testUser, "wamid.ST2", "YES", time.Now())); st != http.StatusOK {
		t.Fatalf("webhook = %d", st)
	}
	e.graph.waitDelivered(t, testUser, 3)
	if got := e.post(t, statusWebhook("wamid.OUT2", "failed", testUser, 131047)); got != http.StatusOK {
		t.Fatalf("status callback: %d", got)
	}
	valueErr := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{` +
		`"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + testPNID + `"},` +
		`"errors":[{"code":131000,"title":"Something went wrong","message":"Something went wrong","error_data":{"details":"for ` + testUser + `"}}]}}]}]}`)
	if got := e.post(t, valueErr); got != http.StatusOK {
		t.Fatalf("value error webhook: %d", got)
	}
	e.wantMetrics(t, map[string]string{
		`parley_window_closed_total`:                                "1",
		`parley_channel_errors_total{code="131047",where="status"}`: "1",
		`parley_channel_errors_total{code="131000",where="value"}`:  "1",
	})
	for _, want := range []string{`"code":131047`, `"code":131000`, "window has closed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs do not mention %s", want)
		}
	}
	if strings.Contains(logs.String(), testUser) {
		t.Error("logs contain the customer's number")
	}
}
