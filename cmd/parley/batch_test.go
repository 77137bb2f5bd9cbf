package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// TestServeBatchAcknowledgedDurably posts one signed webhook carrying the
// first messages of 300 customers and three messages of one more to a
// real `parley serve`, kills it with SIGKILL the moment the 200 arrives and
// restarts it on the same data without redelivering anything: the 200 was
// given after one group commit of the whole request, so every customer
// still gets the consent question, and the one who wrote three times gets
// the replies in the order written.
func TestServeBatchAcknowledgedDurably(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops server processes; skipped with -short")
	}
	const customers = 300
	g, graphURL, flows := newKillGraph(t)
	data := t.TempDir()
	now := time.Now()
	var texts []whatsapptest.Text
	users := make([]string, customers)
	for i := range customers {
		users[i] = fmt.Sprintf("1778%08d", i)
		texts = append(texts, whatsapptest.Text{From: users[i], ID: fmt.Sprint("wamid.BATCH.", i), Body: "hi", At: now})
	}
	three := "177899999999"
	for k, body := range []string{"hi", "YES", "Ada"} {
		texts = append(texts, whatsapptest.Text{From: three, ID: fmt.Sprint("wamid.BATCH.three.", k), Body: body, At: now})
	}

	p := startServe(t, flows, data, graphURL)
	if code := p.postWebhook(t, whatsapptest.TextsWebhook(killPNID, texts...)); code != http.StatusOK {
		p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("batch webhook = %d, want 200:\n%s", code, p.output())
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	before := 0
	for _, u := range append(slices.Clone(users), three) {
		if len(g.replies(u)) > 0 {
			before++
		}
	}

	np := startServe(t, flows, data, graphURL)
	defer func() {
		np.cmd.Process.Kill()
		<-np.exited
		if t.Failed() {
			t.Logf("first server's log:\n%s\nsecond server's log:\n%s", p.output(), np.output())
		}
	}()
	deadline := time.Now().Add(90 * time.Second)
	asked := func(u string) bool {
		return slices.ContainsFunc(g.replies(u), func(r string) bool { return strings.Contains(r, "Do you agree?") })
	}
	lost := 0
	for _, u := range users {
		if !g.waitFor(deadline, func() bool { return asked(u) }) {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d customers never got the consent question after SIGKILL right after the 200", lost, customers)
	}
	want := []string{"Do you agree?", "What's your name?", "What's your email"}
	got := func() []string {
		var seen []string
		for _, r := range g.replies(three) {
			for _, w := range want {
				if strings.Contains(r, w) && !slices.Contains(seen, w) {
					seen = append(seen, w)
				}
			}
		}
		return seen
	}
	if !g.waitFor(deadline, func() bool { return len(got()) == len(want) }) || !slices.Equal(got(), want) {
		t.Errorf("three messages in one batch: replies %q, want the questions %q in that order", g.replies(three), want)
	}
	t.Logf("%d of %d customers had a reply before the SIGKILL; the rest came from the inbox after the restart", before, customers+1)
}
