package memory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/memory"
	"github.com/parleyhq/parley/engine/vault"
)

// Canary personal data of the booking conversation.
const (
	canaryName  = "Ottoline Wrenfeather"
	canaryEmail = "ow.memory-canary@example.org"
	canaryUser  = "15550007777"
)

// textChannel is the smallest host.Channel: a request is the reply text
// with its options, one per line; sends always succeed.
type textChannel struct {
	mu      sync.Mutex
	sent    []string
	changed chan struct{}
}

func (c *textChannel) Name() string { return "text" }

func (c *textChannel) Render(to, _ string, m runtime.Message) []host.Outbound {
	text := m.Text
	for _, o := range m.Options {
		text += "\n" + o.ID + ") " + o.Title
	}
	req, _ := json.Marshal(text)
	return []host.Outbound{{To: to, Req: req}}
}

func (c *textChannel) Send(_ context.Context, out host.Outbound) (string, error) {
	var text string
	if err := json.Unmarshal(out.Req, &text); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, text)
	close(c.changed)
	c.changed = make(chan struct{})
	return "m", nil
}

func (c *textChannel) Classify(host.Outbound, error, int, time.Time) host.SendFailure {
	return host.SendFailure{}
}
func (c *textChannel) WindowOpen(time.Time, time.Time) bool { return true }
func (c *textChannel) Reengage(host.Outbound, string) (host.Outbound, bool) {
	return host.Outbound{}, false
}

// waitSent waits until n replies were sent, or fails the test.
func (c *textChannel) waitSent(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		got, ch := append([]string(nil), c.sent...), c.changed
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %d replies; got %d: %q", n, len(got), got)
		}
	}
}

// TestBookingRunsOnTheMemoryBackendThroughTheHost is the proof that a
// backend is one package: the store comes out of engine/store's registry
// by its URL (this package registered it; nothing else in the module names
// it), and the real vault, session store and host run flows/booking.yaml on
// it as they do on PostgreSQL: greeting and consent, the name, one
// re-prompt for a bad email, three dates, the confirmation. Erasing the
// customer then leaves nothing of them for someone holding the store and
// the master key.
func TestBookingRunsOnTheMemoryBackendThroughTheHost(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	st, err := store.OpenURL(t.Context(), store.Config{URL: "memory://booking", Now: clock})
	if err != nil {
		t.Fatalf("store.OpenURL(memory://) = %v", err)
	}
	mem, ok := st.(*memory.Store)
	if !ok {
		t.Fatalf("memory:// opened a %T", st)
	}
	key := bytes.Repeat([]byte{0x42}, 32)
	v, err := vault.Open(vault.Options{Store: st, CloseStore: true, MasterKey: key, Now: clock})
	if err != nil {
		t.Fatalf("vault.Open on the memory store: %v", err)
	}
	defer v.Close()
	sess := session.New(v)
	flows, report, err := server.LoadFlows("../../../flows")
	if err != nil {
		t.Fatalf("LoadFlows: %v\n%s", err, report)
	}
	h, err := host.New(host.Config{Store: sess, Engine: &runtime.Engine{Lookup: flows.Get, Store: sess, Now: clock},
		Workers: 4, Senders: 4, Now: clock, Lease: time.Minute, ClaimEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ch := &textChannel{changed: make(chan struct{})}
	h.Register(ch, "booking")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	script := []struct {
		text    string
		replies int
	}{{"hi", 2}, {"YES", 1}, {canaryName, 1}, {"not-an-email", 1}, {canaryEmail, 1}, {"2", 1}}
	want := 0
	var got []string
	for i, turn := range script {
		msg := host.Message{ID: "in-" + string(rune('a'+i)), From: canaryUser, Type: "text", Text: turn.text, At: clock().UnixNano()}
		if dup, err := h.Accept(t.Context(), "text", canaryUser, msg); err != nil || dup {
			t.Fatalf("Accept(%q) = dup %v, %v", msg.ID, dup, err)
		}
		want += turn.replies
		got = ch.waitSent(t, want)
	}
	if len(got) != 7 {
		t.Fatalf("%d replies, want 7: %q", len(got), got)
	}
	if !strings.Contains(strings.ToLower(got[1]), "yes") {
		t.Errorf("second reply %q does not ask for consent", got[1])
	}
	if got[3] == got[4] || !strings.Contains(got[4], "email") {
		t.Errorf("reply to a bad email %q is not a re-prompt for the email", got[4])
	}
	if n := strings.Count(got[5], "\n"); n != 3 {
		t.Errorf("date question %q offers %d dates, want 3", got[5], n)
	}
	date := strings.SplitN(strings.Split(got[5], "\n")[2], ") ", 2)[1]
	for _, want := range []string{canaryName, canaryEmail, date} {
		if !strings.Contains(got[6], want) {
			t.Errorf("confirmation %q lacks %q", got[6], want)
		}
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	cancel()
	h.Wait()
	// The store holds the answers sealed: plaintext only with the key.
	if bytes.Contains(mem.Raw(), []byte(canaryName)) {
		t.Errorf("the memory store holds the name in plaintext: the vault did not seal it")
	}
	seen, err := vault.AttackerViewStore(st, key)
	if err != nil {
		t.Fatal(err)
	}
	if !seen.Contains([]byte(canaryName)) || !seen.Contains([]byte(canaryEmail)) {
		t.Fatalf("before the erasure the attacker with the key reads neither canary: the check cannot see stored answers")
	}
	if _, err := sess.Erase(t.Context(), sess.Subject("text", canaryUser), clock()); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	seen, err = vault.AttackerViewStore(st, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, canary := range []string{canaryName, canaryEmail, canaryUser} {
		if seen.Contains([]byte(canary)) {
			t.Errorf("after the erasure the attacker with the master key still reads %q", canary)
		}
	}
}
