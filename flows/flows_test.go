// Package flows_test drives every shipped flow end to end through the
// runtime, so a change to a flow (or to the engine) that breaks a shipped
// conversation fails here.
package flows_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func program(t *testing.T, file string) *compile.Program {
	t.Helper()
	res, err := check.File(file)
	if err != nil {
		t.Fatal(err)
	}
	if res.Program == nil || len(res.Diags) > 0 {
		t.Fatalf("%s does not lint clean: %v", file, res.Diags)
	}
	return res.Program
}

// TestShippedFlowsLintClean: every flow in flows/, whatever its name,
// passes lint without a warning and answers a first message. Flows with a
// scripted conversation have their own end-to-end test below; a flow added
// as the README tutorial says is covered here without editing this file.
func TestShippedFlowsLintClean(t *testing.T) {
	checkFlowsIn(t, ".")
}

// TestShippedFlowsHaveFlowTests: the example flows that ship carry flow
// tests (`parley test flows/` runs them in cmd/parley's scripts and in
// .ci/run). A flow an author adds, as the README tutorial says, is not held
// to this: its own test is a good idea, not a condition of go test.
func TestShippedFlowsHaveFlowTests(t *testing.T) {
	for _, f := range []string{"booking.yaml", "support.yaml", "newsletter.yaml", "pizza.yaml", "dental.yaml", "jobs.yaml"} {
		if _, err := os.Stat(strings.TrimSuffix(f, ".yaml") + "_test.yaml"); err != nil {
			t.Errorf("%s ships without a flow test: add %s_test.yaml (docs/authoring.md)", f, strings.TrimSuffix(f, ".yaml"))
		}
	}
}

// TestTutorialFlowJoinsShippedFlows adds the README tutorial's flow to a
// copy of flows/ and runs the same check, so following the tutorial never
// makes go test ./... fail.
func TestTutorialFlowJoinsShippedFlows(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)Create `flows/hello.yaml`:\n\n   ```yaml\n(.*?)   ```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no tutorial flow")
	}
	dir := t.TempDir()
	files, err := check.Expand([]string{"."})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
		// parley test flows/ (cmd/parley's TestScripts and .ci/run) runs them.
		if _, err := os.Stat(strings.TrimSuffix(f, ".yaml") + "_test.yaml"); err != nil {
			t.Errorf("%s ships without a flow test: add %s_test.yaml (docs/authoring.md)", f, strings.TrimSuffix(f, ".yaml"))
		}
	}
	hello := regexp.MustCompile("(?m)^   ").ReplaceAll(m[1], nil)
	if err := os.WriteFile(filepath.Join(dir, "hello.yaml"), hello, 0o600); err != nil {
		t.Fatal(err)
	}
	want := len(files) + 1
	if slices.Contains(files, "hello.yaml") { // the tutorial was followed here
		want--
	}
	if n := checkFlowsIn(t, dir); n != want {
		t.Errorf("checked %d flows, want the %d shipped ones and hello.yaml", n, len(files))
	}
}

// checkFlowsIn lints every flow in dir and greets each one; it returns how
// many flows it found.
func checkFlowsIn(t *testing.T, dir string) int {
	t.Helper()
	files, err := check.Expand([]string{dir}) // flows only: *_test.yaml are flow tests
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no flows in %s", dir)
	}
	for _, f := range files {
		c := newChat(t, f, nil)
		if out := c.say("hi"); len(out) == 0 {
			t.Errorf("%s: the first message got no reply", f)
		}
	}
	return len(files)
}

// chat is one customer talking to an Engine on a MemStore.
type chat struct {
	t       *testing.T
	e       *runtime.Engine
	store   *runtime.MemStore
	subject string
	lang    string
	n       int
	status  runtime.Status
}

func newChat(t *testing.T, file string, caller runtime.Caller) *chat {
	p := program(t, file)
	st := runtime.NewMemStore()
	e := &runtime.Engine{Programs: map[string]*compile.Program{p.ID(): p}, Store: st, Caller: caller, Now: func() time.Time { return t0 }}
	return &chat{t: t, e: e, store: st, subject: "subject-1"}
}

// say sends one message and returns the replies of that turn.
func (c *chat) say(text string) []runtime.Message {
	c.t.Helper()
	c.n++
	out, status, err := c.e.HandleFlow(context.Background(), c.subject, "", runtime.Inbound{
		ID: "wamid." + string(rune('A'+c.n)), Text: runtime.Answer(text), Lang: c.lang})
	if err != nil {
		c.t.Fatalf("turn %d: %v", c.n, err)
	}
	c.status = status
	return out
}

// script sends each message and checks how many replies each turn gave.
func (c *chat) script(msgs []string, counts []int) [][]runtime.Message {
	c.t.Helper()
	var all [][]runtime.Message
	for i, m := range msgs {
		out := c.say(m)
		if len(out) != counts[i] {
			c.t.Errorf("turn %d (%q): %d replies %q, want %d", i+1, m, len(out), texts(out), counts[i])
		}
		all = append(all, out)
	}
	return all
}

func texts(ms []runtime.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func wantText(t *testing.T, m runtime.Message, kind runtime.MessageKind, parts ...string) {
	t.Helper()
	if m.Kind != kind {
		t.Errorf("message %q is of kind %d, want %d", m.Text, m.Kind, kind)
	}
	for _, p := range parts {
		if !strings.Contains(m.Text, p) {
			t.Errorf("message %q lacks %q", m.Text, p)
		}
	}
}

func TestBookingFullPath(t *testing.T) {
	c := newChat(t, "booking.yaml", nil)
	turns := c.script([]string{"hi", "YES", "Ada", "not-an-email", "ada@example.com", "2"}, []int{2, 1, 1, 1, 1, 1})
	wantText(t, turns[0][0], runtime.KindSay, "booking assistant")
	wantText(t, turns[0][1], runtime.KindConsent, "Smile Dental Ltd", "30 days", "https://smile.example/privacy", "STOP")
	wantText(t, turns[1][0], runtime.KindAsk, "What's your name?")
	wantText(t, turns[2][0], runtime.KindAsk, "Thanks Ada!")
	wantText(t, turns[3][0], runtime.KindRetry, "doesn't look like an email")
	wantText(t, turns[4][0], runtime.KindAsk, "Which day suits you?")
	wantText(t, turns[5][0], runtime.KindSay, "All set, Ada", "Tue 8 Dec, 14:00", "ada@example.com")
	if c.status != runtime.StatusEnded {
		t.Errorf("status %d, want ended", c.status)
	}
	if got := slices.Sorted(slices.Values(c.store.Fields(c.subject))); !slices.Equal(got, []string{"date", "email", "name"}) {
		t.Errorf("stored fields %v, want date, email, name", got)
	}
	cs := c.store.Consents(c.subject)
	// The record proves what was agreed to: the hash of the exact notice sent.
	sum := sha256.Sum256([]byte(turns[0][1].Text))
	if len(cs) != 1 || !cs[0].Granted || cs[0].MessageID != "wamid.C" || cs[0].NoticeHash != hex.EncodeToString(sum[:]) {
		t.Errorf("consents = %+v, want one grant by the second message with the SHA-256 of the notice shown", cs)
	}
}

func TestBookingDeclinePath(t *testing.T) {
	c := newChat(t, "booking.yaml", nil)
	turns := c.script([]string{"hi", "NO"}, []int{2, 1})
	wantText(t, turns[1][0], runtime.KindSay, "No problem, we won't ask for anything")
	if c.status != runtime.StatusEnded || len(c.store.Fields(c.subject)) != 0 {
		t.Errorf("status %d fields %v, want ended with nothing stored", c.status, c.store.Fields(c.subject))
	}
	if cs := c.store.Consents(c.subject); len(cs) != 1 || cs[0].Granted {
		t.Errorf("consents = %+v, want one refusal", cs)
	}
}

func TestSupportEnglishAnswersAndForgetsSessionFields(t *testing.T) {
	c := newChat(t, "support.yaml", nil)
	turns := c.script([]string{"hi", "1", "bv12345", "yes"}, []int{3, 1, 2, 1})
	wantText(t, turns[0][0], runtime.KindSay, "Bottega Verde's order assistant")
	wantText(t, turns[0][1], runtime.KindNotice, "Bottega Verde S.r.l.", "it is needed for our agreement with you", "30 days")
	wantText(t, turns[0][2], runtime.KindAsk, "What can I help you with?")
	if len(turns[0][2].Options) != 3 {
		t.Errorf("topic options = %+v, want 3", turns[0][2].Options)
	}
	wantText(t, turns[1][0], runtime.KindAsk, "order number")
	wantText(t, turns[2][0], runtime.KindSay, "Order BV12345 left our warehouse")
	wantText(t, turns[2][1], runtime.KindAsk, "Did that answer your question?")
	wantText(t, turns[3][0], runtime.KindSay, "Great, thanks")
	if c.status != runtime.StatusEnded {
		t.Errorf("status %d, want ended", c.status)
	}
	// topic lives for the session, happy is transient: only order is left.
	if got := c.store.Fields(c.subject); !slices.Equal(got, []string{"order"}) {
		t.Errorf("fields held after the conversation: %v, want [order]", got)
	}
	if cs := c.store.Consents(c.subject); len(cs) != 0 {
		t.Errorf("a contract purpose recorded consents: %+v", cs)
	}
}

func TestSupportItalianHandsOff(t *testing.T) {
	c := newChat(t, "support.yaml", nil)
	c.lang = "it"
	turns := c.script([]string{"ciao", "3"}, []int{3, 1})
	wantText(t, turns[0][0], runtime.KindSay, "Ciao! Sono l'assistente ordini")
	wantText(t, turns[0][1], runtime.KindNotice, "base giuridica")
	wantText(t, turns[0][2], runtime.KindAsk, "Come posso aiutarti?")
	wantText(t, turns[1][0], runtime.KindHandoff, "Ti passo a un collega")
	if c.status != runtime.StatusHandedOff {
		t.Fatalf("status %d, want handed off", c.status)
	}
	// A person is answering now: the message is acknowledged once, in
	// the customer's language, and then the bot stays quiet...
	if out := c.say("c'è qualcuno?"); len(out) != 1 || out[0].Kind != runtime.KindHandoff || !strings.Contains(out[0].Text, "è arrivato al nostro team") {
		t.Errorf("first message during the hand-off: %q", texts(out))
	}
	if out := c.say("pronto?"); len(out) != 0 {
		t.Errorf("bot replied %q to a second message during the hand-off", texts(out))
	}
	// ...except for the rights keywords, in the customer's language.
	if out := c.say("I MIEI DATI"); len(out) != 1 || out[0].Kind != runtime.KindRights {
		t.Errorf("MY DATA in Italian during the hand-off: %q", texts(out))
	}
}

func TestSupportBadOrderNumberHandsOff(t *testing.T) {
	c := newChat(t, "support.yaml", nil)
	turns := c.script([]string{"hi", "2", "12345"}, []int{3, 1, 1})
	wantText(t, turns[2][0], runtime.KindHandoff, "passing you to a colleague")
	if c.status != runtime.StatusHandedOff {
		t.Errorf("status %d, want handed off", c.status)
	}
}

// recordingCaller records exactly what each integration call received.
type recordingCaller struct {
	mu    sync.Mutex
	fail  bool
	calls []map[string]string
	names []string
}

func (r *recordingCaller) Call(_ context.Context, c runtime.Call) (runtime.Reply, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, c.Integration.Name)
	r.calls = append(r.calls, maps.Clone(c.Fields))
	if r.fail {
		return nil, errors.New("mailer down")
	}
	return nil, nil
}

func TestNewsletterSendsOnlyEmailAndTopic(t *testing.T) {
	rc := &recordingCaller{}
	c := newChat(t, "newsletter.yaml", rc)
	turns := c.script([]string{"hi", "YES", "Mia", "mia@example.org", "2"}, []int{2, 1, 1, 1, 1})
	wantText(t, turns[0][1], runtime.KindConsent, "Orto Urbano Cooperative", "1 year")
	wantText(t, turns[4][0], runtime.KindSay, "You're in, Mia!", "herbs", "mia@example.org")
	if len(rc.calls) != 1 || rc.names[0] != "mailer" {
		t.Fatalf("calls = %v %v, want one call to mailer", rc.names, rc.calls)
	}
	want := map[string]string{"email": "mia@example.org", "topic": "herbs"}
	if !maps.Equal(rc.calls[0], want) {
		t.Errorf("mailer received %v, want exactly %v (first_name must not leave)", rc.calls[0], want)
	}
}

func TestNewsletterMailerFailure(t *testing.T) {
	rc := &recordingCaller{fail: true}
	c := newChat(t, "newsletter.yaml", rc)
	turns := c.script([]string{"hi", "YES", "Mia", "mia@example.org", "1"}, []int{2, 1, 1, 1, 1})
	wantText(t, turns[4][0], runtime.KindSay, "not subscribed yet")
	if c.status != runtime.StatusEnded || len(rc.calls) != 1 {
		t.Errorf("status %d after %d calls, want ended after 1", c.status, len(rc.calls))
	}
}

func TestNewsletterDeclineCallsNothing(t *testing.T) {
	rc := &recordingCaller{}
	c := newChat(t, "newsletter.yaml", rc)
	turns := c.script([]string{"hi", "no"}, []int{2, 1})
	wantText(t, turns[1][0], runtime.KindSay, "nothing was saved")
	if len(rc.calls) != 0 || len(c.store.Fields(c.subject)) != 0 {
		t.Errorf("after a decline: calls %v, fields %v", rc.calls, c.store.Fields(c.subject))
	}
}
