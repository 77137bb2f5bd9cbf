package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/web"
	"github.com/parleyhq/parley/engine/vault"
)

// shopFlow hands off on HUMAN and takes the conversation back at menu when
// nobody answered within timeout; notify, when not empty, is told of each
// hand-off.
func shopFlow(notify, timeout string) string {
	n := ""
	if notify != "" {
		n = "\n  notify: " + notify + "/handoffs"
	}
	return `parley: 1
id: shop
version: 1
languages: [en, it]
handoff:
  timeout: ` + timeout + `
  transcript_retention: 7d` + n + `
on_handoff_timeout: menu
whatsapp:
  outside_window: { template: please_write_again, language: en_US }
start: menu
steps:
  menu:
    ask: What can we help you with? Write HUMAN at any time to talk to a person.
    next: thanks
  thanks:
    say: Thanks, noted.
    end: true
`
}

const handoffTokens = "viewer:viewer-token-0123456789,operator:" + operatorToken + ",dpo:" + dpoToken + ",admin:" + adminToken

// adminRaw is adminCall returning the raw body too.
func (e *env) adminRaw(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "/admin/v1"+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

type queueEntry struct {
	Ref, Channel, Flow, Reason string
	Since, Until               time.Time
}

type handoffDetail struct {
	queueEntry
	Steps      []string
	Transcript []struct{ From, Text string }
}

// queue returns the hand-off queue as the console reads it, checking that
// it names no phone number.
func (e *env) queue(t *testing.T, phones ...string) []queueEntry {
	t.Helper()
	status, raw := e.adminRaw(t, http.MethodGet, "/handoffs", operatorToken, "")
	if status != 200 {
		t.Fatalf("GET /handoffs: %d %s", status, raw)
	}
	for _, p := range phones {
		if strings.Contains(raw, p) {
			t.Errorf("the hand-off queue names the phone number %s: %s", p, raw)
		}
	}
	var out struct{ Handoffs []queueEntry }
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	return out.Handoffs
}

func (e *env) openHandoff(t *testing.T, ref string) handoffDetail {
	t.Helper()
	status, raw := e.adminRaw(t, http.MethodGet, "/handoffs/"+ref, operatorToken, "")
	if status != 200 {
		t.Fatalf("GET /handoffs/%s: %d %s", ref, status, raw)
	}
	var d handoffDetail
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestHandoffOverWhatsApp: over signed webhooks, HUMAN hands the customer
// to the team (the notify address hears a pseudonymous reference, no
// number, no text); their messages are kept and acknowledged once; an
// operator finds the conversation in the queue (no phone number), reads the
// transcript (audited), replies — the fake Graph API receives it, addressed
// to the customer — and hands it back to the bot, which carries on.
func TestHandoffOverWhatsApp(t *testing.T) {
	const (
		canary1 = "parcel 4471 lost CNRY-HO-ONE"
		canary2 = "still there? CNRY-HO-TWO"
		reply   = "Hello, this is Marta: I found your parcel CNRY-STAFF"
	)
	team := newFakeRecipient(t)
	clock := newManualClock()
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{now: clock.Now, logger: logger, tokens: handoffTokens, waFlow: "shop",
		files:  map[string]string{"shop.yaml": shopFlow(team.URL, "4h")},
		caller: &server.HTTPCaller{Client: team.Client()}})
	n := 0
	say := func(text string, replies int) {
		t.Helper()
		n++
		if st := e.post(t, textWebhook(testUser, fmt.Sprintf("wamid.HO.%d", n), text, clock.Now())); st != 200 {
			t.Fatalf("webhook %q: %d", text, st)
		}
		if replies >= 0 {
			e.graph.waitDelivered(t, testUser, replies)
		}
	}
	say("hi", 1)
	say("HUMAN", 2)
	if got := e.graph.deliveredTo(testUser)[1].text(); !strings.Contains(got, "passing you to a person") {
		t.Errorf("hand-off reply %q", got)
	}
	note := team.next(t, "/handoffs")
	if note.Body["event"] != "handoff" || note.Body["flow"] != "shop" || note.Ref == "" ||
		strings.Contains(note.Raw, testUser) || strings.Contains(note.Raw, "HUMAN") {
		t.Errorf("hand-off notice %+v: want event handoff, flow shop, a reference, no number and no text", note)
	}
	say(canary1, 3)
	say(canary2, -1)
	say("MY DATA", 4) // processed after canary2: the customer's turns run in order
	got := e.graph.deliveredTo(testUser)
	if !strings.Contains(got[2].text(), "your message is with our team") || !strings.Contains(got[3].text(), "hold") {
		t.Errorf("replies after the hand-off: %q, %q; want one acknowledgement, then the MY DATA answer", got[2].text(), got[3].text())
	}

	ref := e.vault.SubjectID("whatsapp", testUser).Hex()
	if status, _ := e.adminRaw(t, http.MethodGet, "/handoffs", "viewer-token-0123456789", ""); status != 403 {
		t.Errorf("a viewer listed hand-offs: %d", status)
	}
	q := e.queue(t, testUser)
	if len(q) != 1 || q[0].Ref != ref || q[0].Channel != "whatsapp" || q[0].Flow != "shop" || q[0].Reason != "keyword" ||
		q[0].Until.Sub(q[0].Since) != 4*time.Hour {
		t.Fatalf("queue %+v, want the customer's conversation, reason keyword, 4h timeout", q)
	}
	if status, raw := e.adminRaw(t, http.MethodGet, "/metrics-summary", "viewer-token-0123456789", ""); status != 200 || !strings.Contains(raw, `"handoffs_waiting":1`) {
		t.Errorf("metrics summary: %d %s, want one hand-off waiting", status, raw)
	}
	d := e.openHandoff(t, ref)
	if len(d.Transcript) != 2 || d.Transcript[0].Text != canary1 || d.Transcript[1].Text != canary2 || d.Transcript[0].From != "customer" {
		t.Fatalf("transcript %+v, want both messages of the customer", d.Transcript)
	}
	entries, err := e.vault.AuditEntries(vault.AuditFilter{Subject: vault.SubjectID(ref)})
	if err != nil {
		t.Fatal(err)
	}
	read := false
	for _, en := range entries {
		read = read || en.Action == "handoffs.read:ok" && strings.HasPrefix(en.Actor, "operator:")
	}
	if !read {
		t.Errorf("reading the transcript was not audited against the subject: %+v", entries)
	}

	if status, raw := e.adminRaw(t, http.MethodPost, "/handoffs/"+ref+"/reply", operatorToken, `{"text":"`+reply+`"}`); status != 200 {
		t.Fatalf("reply: %d %s", status, raw)
	}
	e.graph.waitDelivered(t, testUser, 5)
	if c := e.graph.deliveredTo(testUser)[4]; c.text() != reply || c.to() != testUser {
		t.Errorf("the customer received %q (to %s), want the operator's reply", c.text(), c.to())
	}
	if status, raw := e.adminRaw(t, http.MethodPost, "/handoffs/"+ref+"/return", operatorToken, `{"step":"nowhere"}`); status != 400 {
		t.Errorf("return to a missing step: %d %s", status, raw)
	}
	if status, raw := e.adminRaw(t, http.MethodPost, "/handoffs/"+ref+"/return", operatorToken, `{"step":"menu"}`); status != 200 {
		t.Fatalf("return: %d %s", status, raw)
	}
	e.graph.waitDelivered(t, testUser, 6)
	if got := e.graph.deliveredTo(testUser)[5].text(); !strings.Contains(got, "What can we help you with?") {
		t.Errorf("after the hand-back the bot said %q, want the menu", got)
	}
	say("a question about sizes", 7)
	if got := e.graph.deliveredTo(testUser)[6].text(); got != "Thanks, noted." {
		t.Errorf("the bot answered %q after the hand-back, want it to carry on", got)
	}
	if q := e.queue(t); len(q) != 0 {
		t.Errorf("queue after the hand-back: %+v", q)
	}
	if status, _ := e.adminRaw(t, http.MethodPost, "/handoffs/"+ref+"/close", operatorToken, ""); status != 409 {
		t.Errorf("close after the hand-back: %d, want 409", status)
	}
	e.wantMetrics(t, map[string]string{
		`parley_handoffs_total{channel="whatsapp",reason="keyword"}`: "1",
		`parley_handoff_ends_total{how="returned"}`:                  "1",
		`parley_staff_replies_total{channel="whatsapp"}`:             "1",
	})
	e.shutdown(t)
	if !strings.Contains(logs.String(), "conversation handed off to a person") {
		t.Error("no log line for the hand-off")
	}
	logHolds(t, logs, canary1, canary2, reply, testUser)
}

// TestHandoffTimesOutWithTheInjectedClock: nobody answers; once the clock
// passes handoff.timeout, the timeout round tells the customer and returns
// to on_handoff_timeout; a second round does nothing.
func TestHandoffTimesOutWithTheInjectedClock(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now, tokens: handoffTokens, waFlow: "shop", files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	e.post(t, textWebhook(testUser, "wamid.T1", "hi", clock.Now()))
	e.post(t, textWebhook(testUser, "wamid.T2", "HUMAN", clock.Now()))
	e.graph.waitDelivered(t, testUser, 2)
	clock.Add(3 * time.Hour)
	if n, err := e.srv.ExpireHandoffs(t.Context()); n != 0 || err != nil {
		t.Fatalf("before the timeout: %d taken back, %v", n, err)
	}
	clock.Add(time.Hour + time.Second)
	if n, err := e.srv.ExpireHandoffs(t.Context()); n != 1 || err != nil {
		t.Fatalf("after the timeout: %d taken back, %v", n, err)
	}
	e.graph.waitDelivered(t, testUser, 4)
	got := e.graph.deliveredTo(testUser)
	if !strings.Contains(got[2].text(), "nobody from our team could reply in time") || !strings.Contains(got[3].text(), "What can we help you with?") {
		t.Errorf("after the timeout the customer got %q, %q", got[2].text(), got[3].text())
	}
	if n, _ := e.srv.ExpireHandoffs(t.Context()); n != 0 {
		t.Errorf("a second round took back %d", n)
	}
	if q := e.queue(t); len(q) != 0 {
		t.Errorf("queue after the timeout: %+v", q)
	}
	e.wantMetrics(t, map[string]string{`parley_handoff_ends_total{how="timeout"}`: "1"})
}

// TestHandoffReplyOutsideTheWindowSendsTheTemplate: an operator replies 25
// hours after the customer last wrote; WhatsApp refuses free text then, so
// the flow's approved template goes instead.
func TestHandoffReplyOutsideTheWindowSendsTheTemplate(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now, tokens: handoffTokens, waFlow: "shop", files: map[string]string{"shop.yaml": shopFlow("", "48h")}})
	e.post(t, textWebhook(testUser, "wamid.W1", "HUMAN", clock.Now()))
	e.graph.waitDelivered(t, testUser, 1)
	clock.Add(25 * time.Hour)
	ref := e.vault.SubjectID("whatsapp", testUser).Hex()
	if status, raw := e.adminRaw(t, http.MethodPost, "/handoffs/"+ref+"/reply", operatorToken, `{"text":"sorry for the wait"}`); status != 200 {
		t.Fatalf("reply: %d %s", status, raw)
	}
	e.graph.waitDelivered(t, testUser, 2)
	c := e.graph.deliveredTo(testUser)[1]
	tpl, _ := c.Body["template"].(map[string]any)
	if c.Body["type"] != "template" || tpl["name"] != "please_write_again" {
		t.Errorf("outside the window the customer was sent %v, want the flow's template", c.Body)
	}
}

// webUpdates is the web chat page's poll for what the team said.
func (e *env) webUpdates(t *testing.T, visitor string) []string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/updates", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: e.visitors[visitor]})
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []struct{ Kind, Text string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /api/updates: %d %v", resp.StatusCode, err)
	}
	var texts []string
	for _, m := range out.Messages {
		texts = append(texts, m.Kind+": "+m.Text)
	}
	return texts
}

// TestHandoffOverTheWebChat: the same over the web chat, which cannot push:
// the operator's reply and the bot's question after the hand-back reach the
// visitor's page when it polls, once each.
func TestHandoffOverTheWebChat(t *testing.T) {
	e := newEnv(t, envOptions{webChat: true, tokens: handoffTokens, files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	e.webTurn(t, "shop", "ada", "hi")
	if got := e.webTurn(t, "shop", "ada", "HUMAN"); len(got) != 1 || !strings.Contains(got[0], "passing you to a person") {
		t.Fatalf("HUMAN: %q", got)
	}
	if got := e.webTurn(t, "shop", "ada", "is anyone there?"); len(got) != 1 || !strings.Contains(got[0], "your message is with our team") {
		t.Fatalf("message while handed off: %q", got)
	}
	if got := e.webUpdates(t, "ada"); len(got) != 0 {
		t.Fatalf("updates before anyone replied: %q", got)
	}
	ref := e.vault.SubjectID("web", e.visitorID("ada")).Hex()
	q := e.queue(t, e.visitorID("ada"))
	if len(q) != 1 || q[0].Ref != ref || q[0].Channel != "web" {
		t.Fatalf("queue %+v", q)
	}
	if d := e.openHandoff(t, ref); len(d.Transcript) != 1 || d.Transcript[0].Text != "is anyone there?" {
		t.Fatalf("transcript %+v", d.Transcript)
	}
	if status, raw := e.adminRaw(t, http.MethodPost, "/handoffs/"+ref+"/reply", dpoToken, `{"text":"Yes, Marta here."}`); status != 200 {
		t.Fatalf("reply: %d %s", status, raw)
	}
	if got := e.webUpdates(t, "ada"); len(got) != 1 || got[0] != "staff: Yes, Marta here." {
		t.Fatalf("the page collected %q, want the operator's reply", got)
	}
	if got := e.webUpdates(t, "ada"); len(got) != 0 {
		t.Fatalf("the reply was collected twice: %q", got)
	}
	if status, raw := e.adminRaw(t, http.MethodPost, "/handoffs/"+ref+"/return", operatorToken, `{"step":"menu"}`); status != 200 {
		t.Fatalf("return: %d %s", status, raw)
	}
	if got := e.webUpdates(t, "ada"); len(got) != 1 || !strings.Contains(got[0], "ask: What can we help you with?") {
		t.Fatalf("after the hand-back the page collected %q", got)
	}
	if got := e.webTurn(t, "shop", "ada", "sizes"); len(got) != 1 || got[0] != "Thanks, noted." {
		t.Fatalf("the bot answered %q after the hand-back", got)
	}

	// Another visitor's hand-off is closed by the team: their page is told,
	// and their next message starts the flow again.
	e.webTurn(t, "shop", "bob", "HUMAN")
	bob := e.vault.SubjectID("web", e.visitorID("bob")).Hex()
	if status, raw := e.adminRaw(t, http.MethodPost, "/handoffs/"+bob+"/close", operatorToken, ""); status != 200 {
		t.Fatalf("close: %d %s", status, raw)
	}
	if got := e.webUpdates(t, "bob"); len(got) != 1 || !strings.Contains(got[0], "closed this conversation") {
		t.Fatalf("after the close the page collected %q", got)
	}
	if got := e.webTurn(t, "shop", "bob", "hello again"); len(got) != 1 || !strings.Contains(got[0], "What can we help you with?") {
		t.Fatalf("after the close the bot answered %q, want the flow from the start", got)
	}
	if q := e.queue(t); len(q) != 0 {
		t.Errorf("queue after the close: %+v", q)
	}
	e.wantMetrics(t, map[string]string{`parley_handoff_ends_total{how="closed"}`: "1", `parley_handoffs_total{channel="web",reason="keyword"}`: "2"})
}

// TestHandoffTranscriptGoneAfterEraseAndExpiry: the master-key attacker
// reads a hand-off transcript while it is kept (the control), nothing of an
// erased customer's at once, and nothing of the other's once its
// transcript_retention (7d) has passed and the vault was swept.
func TestHandoffTranscriptGoneAfterEraseAndExpiry(t *testing.T) {
	const (
		erased  = "CNRY-ERASED-TRANSCRIPT"
		expired = "CNRY-EXPIRED-TRANSCRIPT"
	)
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{webChat: true, logger: logger, tokens: handoffTokens, files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	for visitor, canary := range map[string]string{"ann": erased, "bob": expired} {
		e.webTurn(t, "shop", visitor, "HUMAN")
		e.webTurn(t, "shop", visitor, canary)
	}
	body := `{"channel":"web","user":"` + e.visitorID("ann") + `"}`
	status, raw := e.adminRaw(t, http.MethodPost, "/subjects/export", dpoToken, body)
	if status != 200 || !strings.Contains(raw, erased) || !strings.Contains(raw, `"transcript"`) {
		t.Fatalf("export: %d %s; want the transcript in it", status, raw)
	}
	if status, raw := e.adminRaw(t, http.MethodPost, "/subjects/erase", dpoToken, body); status != 200 {
		t.Fatalf("erase: %d %s", status, raw)
	}
	if q := e.queue(t); len(q) != 1 || q[0].Ref != e.vault.SubjectID("web", e.visitorID("bob")).Hex() {
		t.Errorf("queue after the erasure: %+v, want only bob", q)
	}
	e.shutdown(t)
	logHolds(t, logs, erased, expired)
	if found := e.attackerReads(t, erased, expired); len(found) != 1 || found[0] != expired {
		t.Fatalf("after the erasure the attacker reads %v, want only the kept transcript (the control)", found)
	}
	e.sweepLater(t, 7*24*time.Hour+time.Hour)
	if found := e.attackerReads(t, erased, expired); len(found) != 0 {
		t.Errorf("after transcript_retention and the sweep the attacker reads %v", found)
	}
}

// TestHandoffRoutesRoleMatrix: every admin route the server serves (the
// table is checked against Fiber's), for every role: the hand-off routes
// and broadcasts are for operator and dpo, the audit log read for dpo,
// GET /me for everyone.
func TestHandoffRoutesRoleMatrix(t *testing.T) {
	e := newEnv(t, envOptions{webChat: true, tokens: handoffTokens, files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	ref := strings.Repeat("0", 64) // no such hand-off: an allowed role gets 404 or 409, never 403
	routes := []struct {
		method, path, body string
		allowed            []string
	}{
		{http.MethodGet, "/handoffs", "", []string{"operator", "dpo"}},
		{http.MethodGet, "/handoffs/" + ref, "", []string{"operator", "dpo"}},
		{http.MethodPost, "/handoffs/" + ref + "/reply", `{"text":"hi"}`, []string{"operator", "dpo"}},
		{http.MethodPost, "/handoffs/" + ref + "/return", `{"step":"menu"}`, []string{"operator", "dpo"}},
		{http.MethodPost, "/handoffs/" + ref + "/close", "", []string{"operator", "dpo"}},
		{http.MethodGet, "/audit?action=handoffs.", "", []string{"dpo"}},
		{http.MethodGet, "/me", "", []string{"viewer", "operator", "dpo", "admin"}},
		{http.MethodGet, "/flows", "", []string{"viewer", "operator", "dpo", "admin"}},
		{http.MethodGet, "/metrics-summary", "", []string{"viewer", "operator", "dpo", "admin"}},
		{http.MethodPost, "/subjects/export", `{"channel":"web","user":"nobody-here"}`, []string{"operator", "dpo"}},
		{http.MethodPost, "/subjects/erase", `{"channel":"web","user":"nobody-here"}`, []string{"dpo"}},
		{http.MethodPost, "/subjects/rectify", `{"channel":"web","user":"nobody-here","field":"name","value":"X"}`, []string{"dpo"}},
		{http.MethodGet, "/audit/verify", "", []string{"dpo"}},
		{http.MethodPost, "/broadcasts", `{"flow":"shop","template":"no_such_template","dry_run":true}`, []string{"operator", "dpo"}},
		{http.MethodPost, "/flows/reload", "", []string{"admin"}},
	}
	// The table holds every route the server serves under /admin/v1.
	for _, r := range e.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, admin.Prefix+"/") || r.Method == http.MethodHead {
			continue
		}
		path := strings.Replace(strings.TrimPrefix(r.Path, admin.Prefix), ":ref", ref, 1)
		if !slices.ContainsFunc(routes, func(x struct {
			method, path, body string
			allowed            []string
		}) bool {
			return x.method == r.Method && strings.SplitN(x.path, "?", 2)[0] == path
		}) {
			t.Errorf("the matrix does not check %s %s", r.Method, r.Path)
		}
	}
	tokens := map[string]string{"viewer": "viewer-token-0123456789", "operator": operatorToken, "dpo": dpoToken, "admin": adminToken}
	for _, r := range routes {
		for role, token := range tokens {
			status, raw := e.adminRaw(t, r.method, r.path, token, r.body)
			allowed := false
			for _, a := range r.allowed {
				allowed = allowed || a == role
			}
			switch {
			case allowed && (status == 403 || status == 401 || status >= 500):
				t.Errorf("%s %s as %s: %d %s, want it allowed", r.method, r.path, role, status, raw)
			case !allowed && status != 403:
				t.Errorf("%s %s as %s: %d, want 403", r.method, r.path, role, status)
			}
		}
	}
	// Without a token: 401 (a few routes only: five misses lock the
	// client out for a while).
	for _, r := range []int{0, 2, 5} {
		if status, _ := e.adminRaw(t, routes[r].method, routes[r].path, "", routes[r].body); status != 401 {
			t.Errorf("%s %s without a token: %d, want 401", routes[r].method, routes[r].path, status)
		}
	}
	// The DPO reads the denials back from the audit log, filtered.
	status, raw := e.adminRaw(t, http.MethodGet, "/audit?action=handoffs.reply&actor=viewer:", dpoToken, "")
	if status != 200 || !strings.Contains(raw, `"handoffs.reply:denied"`) || strings.Contains(raw, "handoffs.list") {
		t.Errorf("audit read: %d %s; want only the viewer's denied reply", status, raw)
	}
}

var _ = slog.LevelDebug

// TestHandoffWhoseConversationExpiredLeavesTheQueue: a conversation kept
// for less time than its hand-off timeout is gone by then; the timeout round
// takes it out of the queue instead of listing it for ever.
func TestHandoffWhoseConversationExpiredLeavesTheQueue(t *testing.T) {
	clock := newManualClock()
	flow := strings.Replace(shopFlow("", "4h"), "version: 1\n", "version: 1\nconversation_retention: 1h\n", 1)
	e := newEnv(t, envOptions{now: clock.Now, tokens: handoffTokens, waFlow: "shop", files: map[string]string{"shop.yaml": flow}})
	e.post(t, textWebhook(testUser, "wamid.X1", "HUMAN", clock.Now()))
	e.graph.waitDelivered(t, testUser, 1)
	if q := e.queue(t); len(q) != 1 {
		t.Fatalf("queue %+v, want the hand-off", q)
	}
	clock.Add(5 * time.Hour)
	if n, err := e.srv.ExpireHandoffs(t.Context()); n != 0 || err != nil {
		t.Fatalf("timeout round: %d taken back, %v; want none (nothing left to take back)", n, err)
	}
	if q := e.queue(t); len(q) != 0 {
		t.Errorf("queue after the conversation expired: %+v", q)
	}
	if got := len(e.graph.deliveredTo(testUser)); got != 1 {
		t.Errorf("the customer was sent %d messages, want only the hand-off's", got)
	}
}

// TestHandoffTimeoutLoopRunsBySelf: serve's own round (HandoffEvery) takes
// back a hand-off once the clock has passed its timeout, without anyone
// calling it; the test waits for the customer's message at the fake Graph
// API.
func TestHandoffTimeoutLoopRunsBySelf(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now, handoffEvery: 5 * time.Millisecond, waFlow: "shop",
		files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	e.post(t, textWebhook(testUser, "wamid.L1", "HUMAN", clock.Now()))
	e.graph.waitDelivered(t, testUser, 1)
	clock.Add(4*time.Hour + time.Minute)
	e.graph.waitDelivered(t, testUser, 3) // "nobody could reply in time", then the menu
	if got := e.graph.deliveredTo(testUser)[1].text(); !strings.Contains(got, "nobody from our team could reply in time") {
		t.Errorf("the loop's message: %q", got)
	}
}

// TestMyDataListsTheHandoffTranscript: a customer who talked to the team
// sees in MY DATA that what they and the team wrote is kept, and until
// when (transcript_retention), in English and in Italian.
func TestMyDataListsTheHandoffTranscript(t *testing.T) {
	e := newEnv(t, envOptions{webChat: true, tokens: handoffTokens, files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	for _, tc := range []struct{ visitor, hello, mine, want string }{
		{"ann", "hello", "MY DATA", "2 messages you and our team wrote while you talked to a person (until "},
		{"bea", "ciao", "I MIEI DATI", "2 messaggi scritti da te e dal nostro team mentre parlavi con una persona (fino al "},
	} {
		e.webTurn(t, "shop", tc.visitor, tc.hello)
		before := strings.Join(e.webTurn(t, "shop", tc.visitor, tc.mine), "\n")
		if strings.Contains(before, tc.want[:12]) {
			t.Errorf("%s: MY DATA lists a transcript before any hand-off: %q", tc.visitor, before)
		}
		e.webTurn(t, "shop", tc.visitor, "HUMAN")
		e.webTurn(t, "shop", tc.visitor, "my order never came")
		e.webTurn(t, "shop", tc.visitor, "it was order 42")
		got := strings.Join(e.webTurn(t, "shop", tc.visitor, tc.mine), "\n")
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: MY DATA during the hand-off answered %q, want %q", tc.visitor, got, tc.want)
		}
	}
}
