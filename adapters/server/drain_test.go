package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// heldStore holds the first inbox write until released: a webhook in
// flight when Shutdown begins.
type heldStore struct {
	*session.Store
	held             atomic.Bool
	entered, release chan struct{}
}

func (h *heldStore) InboxPutBatch(ctx context.Context, items []session.InboxItem, now time.Time) ([]bool, error) {
	if h.held.CompareAndSwap(false, true) {
		close(h.entered)
		<-h.release
	}
	return h.Store.InboxPutBatch(ctx, items, now)
}

// send posts a signed webhook over real HTTP with client.
func send(t *testing.T, client *http.Client, base string, body []byte) (*http.Response, string) {
	t.Helper()
	req := webhookRequest(body, true)
	req.RequestURI = ""
	req.URL.Scheme, req.URL.Host = "http", strings.TrimPrefix(base, "http://")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", req.URL, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestShutdownDrains: Shutdown does not close the listener under requests.
// While a webhook is in flight the server drains: a request on a
// keep-alive connection it had before is answered 200 and its connection
// closed, a new connection is answered 503 with Retry-After (stored
// nothing: Meta delivers it again), and the webhook in flight finishes
// with 200. Only then does the listener close; both answered messages ran
// their turns.
func TestShutdownDrains(t *testing.T) {
	hs := &heldStore{entered: make(chan struct{}), release: make(chan struct{})}
	// The drain's time limit is the test's: the webhook in flight holds it.
	e := newEnv(t, envOptions{drain: waitLimit, store: func(s *session.Store) server.Backend { hs.Store = s; return hs }})
	base := e.listen(t)
	released := false
	defer func() {
		if !released {
			close(hs.release)
		}
	}()

	inflight := make(chan int, 1)
	go func() {
		resp, _ := send(t, &http.Client{}, base, textWebhook("15550000001", "wamid.DRAIN1", "hi", time.Now()))
		inflight <- resp.StatusCode
	}()
	<-hs.entered
	// A keep-alive connection made before the stop, idle now.
	early := &http.Client{Transport: &http.Transport{}}
	if resp, body := send(t, early, base, []byte(`{}`)); resp.StatusCode != http.StatusOK {
		t.Fatalf("empty webhook before the stop = %d %q", resp.StatusCode, body)
	}

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		stopped <- e.srv.Shutdown(ctx)
	}()
	// Wait until the drain answers a new connection.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, body := send(t, fresh, base, []byte(`{}`))
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "shutting down") {
				t.Errorf("new connection during the drain: 503 with Retry-After %q, body %q", resp.Header.Get("Retry-After"), body)
			}
			break
		}
		select {
		case err := <-stopped:
			t.Fatalf("Shutdown returned (%v) while a webhook was in flight", err)
		case <-tick.C:
		}
	}
	resp, body := send(t, early, base, textWebhook("15550000002", "wamid.DRAIN2", "hi", time.Now()))
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("keep-alive connection from before the stop: %d %q, Connection: close %v; want 200 and the connection closed", resp.StatusCode, body, resp.Close)
	}
	close(hs.release)
	released = true
	if code := <-inflight; code != http.StatusOK {
		t.Errorf("webhook in flight when Shutdown began = %d, want 200", code)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := fresh.Get(base + "/healthz"); err == nil {
		t.Error("the listener still answers after Shutdown returned")
	}
	e.stopped = true
	for _, user := range []string{"15550000001", "15550000002"} {
		if n := len(e.graph.deliveredTo(user)); n != 2 {
			t.Errorf("replies to %s = %d, want 2 (greeting and consent question)", user, n)
		}
	}
}

// TestServeAfterShutdownReturns: a Serve whose goroutine starts only after
// Shutdown (a test that skips at once, a busy machine) closes its listener
// and returns instead of serving for ever.
func TestServeAfterShutdownReturns(t *testing.T) {
	v, err := vault.Open(vault.Options{Dir: t.TempDir(), MasterKey: masterKey})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	flows, report, err := server.LoadFlows(copyBookingFlow(t))
	if err != nil {
		t.Fatalf("%v\n%s", err, report)
	}
	srv, err := server.New(server.Config{Store: session.New(v), Flows: flows, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener after Serve returned: Accept = %v, want it closed", err)
	}
}
