package server_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// manualClock is the server's clock in these tests; they move it by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock { return &manualClock{t: time.Now().Truncate(time.Second)} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// wantMetrics checks sample lines of /metrics.
func (e *env) wantMetrics(t *testing.T, want map[string]string) {
	t.Helper()
	_, body := e.get(t, "/metrics")
	for sample, w := range want {
		if got := metricValue(body, sample); got != w {
			t.Errorf("%s = %q, want %s", sample, got, w)
		}
	}
}

const outsideWindowTemplate = "whatsapp:\n  outside_window: { template: please_write_again, language: en_US }\n"

// TestWebhookStaleAndFutureMessagesNeverRunATurn: a message timestamped 11
// days before the server's clock, and one 10 minutes after it, are
// acknowledged and dropped: no turn, no reply, not even the flow's
// outside-window template. Their redeliveries are duplicates, also once
// the clock has caught up with the future one. A message an hour old from
// another customer still runs.
func TestWebhookStaleAndFutureMessagesNeverRunATurn(t *testing.T) {
	clock := newManualClock()
	var logs syncBuffer
	e := newEnv(t, envOptions{now: clock.Now, flowExtra: outsideWindowTemplate,
		logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const fresh = "15550003002"
	now := clock.Now()
	old := textWebhook(testUser, "wamid.OLD", "hi", now.Add(-11*24*time.Hour))
	future := textWebhook(testUser, "wamid.FUTURE", "hi", now.Add(10*time.Minute))
	for _, body := range [][]byte{old, future, old, textWebhook(fresh, "wamid.HOUR", "hi", now.Add(-time.Hour))} {
		if st := e.post(t, body); st != http.StatusOK {
			t.Fatalf("webhook answered %d, want 200 (Meta must not redeliver)", st)
		}
	}
	e.graph.waitDelivered(t, fresh, 2)
	clock.Add(15 * time.Minute) // the future message is now in range
	if st := e.post(t, future); st != http.StatusOK {
		t.Fatalf("redelivery answered %d", st)
	}
	e.shutdown(t) // finishes queued turns and flushes the outbox

	if calls := len(e.graph.all()) - len(e.graph.deliveredTo(fresh)); calls != 0 {
		t.Errorf("the stale customer was sent %d messages, want none", calls)
	}
	e.wantMetrics(t, map[string]string{
		`parley_webhook_stale_total{reason="old"}`:    "1",
		`parley_webhook_stale_total{reason="future"}`: "1",
		`parley_webhooks_total{result="duplicate"}`:   "2",
		`parley_turns_total{channel="whatsapp"}`:      "1",
	})
	if state, fields, err := e.vault.LoadSubject(e.vault.SubjectID("whatsapp", testUser), clock.Now()); err != nil || state != nil || len(fields) != 0 {
		t.Errorf("the stale customer has a conversation: state %q, %d fields, %v", state, len(fields), err)
	}
	if st := e.stats(t); st.InboxPending != 0 {
		t.Errorf("inbox still holds %d messages after shutdown", st.InboxPending)
	}
	if !strings.Contains(logs.String(), "reason=old") || strings.Contains(logs.String(), testUser) {
		t.Errorf("want a log line with the reason and without the number:\n%s", logs.String())
	}
}

// TestWebhookMaxAgeIsConfigurable: with MaxAge 2h a message three hours old
// is dropped and one an hour old runs.
func TestWebhookMaxAgeIsConfigurable(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now, maxAge: 2 * time.Hour})
	const old, recent = "15550008001", "15550008002"
	e.post(t, textWebhook(old, "wamid.MA1", "hi", clock.Now().Add(-3*time.Hour)))
	e.post(t, textWebhook(recent, "wamid.MA2", "hi", clock.Now().Add(-time.Hour)))
	e.graph.waitDelivered(t, recent, 2)
	e.shutdown(t)
	if n := len(e.graph.deliveredTo(old)); n != 0 {
		t.Errorf("the three-hour-old message got %d replies, want none", n)
	}
	e.wantMetrics(t, map[string]string{`parley_webhook_stale_total{reason="old"}`: "1"})
}

// TestWebhookReversedBatchRunsInTimestampOrder: one delivery carries a
// customer's "hi", "YES" and name in reverse array order; they are answered
// in timestamp order, so the conversation ends asking for the email of the
// right name.
func TestWebhookReversedBatchRunsInTimestampOrder(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now})
	at := clock.Now().Add(-time.Minute)
	body := whatsapptest.TextsWebhook(testPNID,
		whatsapptest.Text{From: testUser, ID: "wamid.R3", Body: "Ada", At: at.Add(2 * time.Second)},
		whatsapptest.Text{From: testUser, ID: "wamid.R2", Body: "YES", At: at.Add(time.Second)},
		whatsapptest.Text{From: testUser, ID: "wamid.R1", Body: "hi", At: at},
	)
	if st := e.post(t, body); st != http.StatusOK {
		t.Fatalf("webhook answered %d", st)
	}
	e.graph.waitDelivered(t, testUser, 4)
	e.shutdown(t)
	got := textsOf(e.graph.deliveredTo(testUser))
	want := referenceTexts(t)[:4] // greeting, consent, name question, "Thanks Ada! What's your email…"
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("replies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWebhookMisroutedMessagesAreDropped: a message without
// metadata.phone_number_id, or for another business number, is never
// answered; it is counted and logged without the sender's number.
func TestWebhookMisroutedMessagesAreDropped(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, envOptions{logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const (
		noMeta  = "15550004001"
		foreign = "15550004002"
		ours    = "15550004003"
	)
	now := time.Now()
	for _, body := range [][]byte{
		whatsapptest.TextWebhook("", noMeta, "wamid.NOMETA", "hi", now),
		whatsapptest.TextWebhook("199999999999999", foreign, "wamid.FOREIGN", "hi", now),
		textWebhook(ours, "wamid.OURS", "hi", now),
	} {
		if st := e.post(t, body); st != http.StatusOK {
			t.Fatalf("webhook answered %d, want 200", st)
		}
	}
	e.graph.waitDelivered(t, ours, 2)
	e.shutdown(t)
	if n := len(e.graph.all()); n != 2 {
		t.Errorf("Graph API received %d requests, want 2 (only the message for our number answered)", n)
	}
	e.wantMetrics(t, map[string]string{
		`parley_webhook_misrouted_total{reason="missing"}`: "1",
		`parley_webhook_misrouted_total{reason="foreign"}`: "1",
	})
	if st := e.stats(t); st.Subjects != 1 {
		t.Errorf("vault holds %d subjects, want 1: misrouted messages must store nothing", st.Subjects)
	}
	out := logs.String()
	if !strings.Contains(out, "reason=missing") || !strings.Contains(out, "reason=foreign") {
		t.Errorf("no routing warning in the log:\n%s", out)
	}
	for _, phone := range []string{noMeta, foreign, ours} {
		if strings.Contains(out, phone) {
			t.Errorf("the log holds the phone number %s", phone)
		}
	}
}

// TestNumberChangeMovesTheConversation: a customer gives their name and
// email from one number, WhatsApp reports the number change, and the
// customer picks a date from the new number: the booking is confirmed with
// their name and email. The old number's pseudonym holds nothing.
func TestNumberChangeMovesTheConversation(t *testing.T) {
	const (
		oldPhone = "15550005001"
		newPhone = "15550005002"
		name     = "Zephyrine Quillfeather"
		email    = "zq.canary@example.org"
	)
	var logs syncBuffer
	e := newEnv(t, envOptions{logger: slog.New(slog.NewTextHandler(&logs, nil))})
	replies := 0
	for i, turn := range []struct {
		text    string
		replies int
	}{{"hi", 2}, {"YES", 1}, {name, 1}, {email, 1}} {
		if st := e.post(t, textWebhook(oldPhone, "wamid.NC."+string(rune('a'+i)), turn.text, time.Now())); st != http.StatusOK {
			t.Fatalf("turn %d: status %d", i+1, st)
		}
		replies += turn.replies
		e.graph.waitDelivered(t, oldPhone, replies)
	}
	// One delivery carries the customer's first message from the new number
	// and, after it in the array but earlier by timestamp, the notice.
	now := time.Now()
	body := whatsapptest.Merge(
		textWebhook(newPhone, "wamid.NC.new", "2", now.Add(time.Second)),
		whatsapptest.NumberChangeWebhook(testPNID, oldPhone, newPhone, "wamid.NC.system", now))
	if st := e.post(t, body); st != http.StatusOK {
		t.Fatalf("number change delivery: status %d", st)
	}
	e.graph.waitDelivered(t, newPhone, 1)
	e.shutdown(t)

	got := textsOf(e.graph.deliveredTo(newPhone))
	if len(got) != 1 || !strings.Contains(got[0], "All set, "+name) || !strings.Contains(got[0], email) {
		t.Errorf("the new number was sent %q, want the confirmation with the name and email given from the old number", got)
	}
	if n := len(e.graph.deliveredTo(oldPhone)); n != replies {
		t.Errorf("the old number was sent %d messages, want %d (nothing after the change)", n, replies)
	}
	oldSubject := e.vault.SubjectID("whatsapp", oldPhone)
	if ex, err := e.vault.Export(oldSubject, now); err != nil || ex.State != nil || len(ex.Fields)+len(ex.Consents) != 0 {
		t.Errorf("the old number still holds data: %+v, %v", ex, err)
	}
	ex, err := e.vault.Export(e.vault.SubjectID("whatsapp", newPhone), now)
	if err != nil || len(ex.Consents) == 0 {
		t.Errorf("the new number's export = %+v, %v; want the consent given from the old number", ex, err)
	}
	e.wantMetrics(t, map[string]string{`parley_number_changes_total{outcome="moved"}`: "1"})
	if _, err := e.vault.AuditVerify(); err != nil {
		t.Errorf("AuditVerify: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "customer changed number") {
		t.Errorf("no log line for the number change:\n%s", out)
	}
	for _, secret := range []string{oldPhone, newPhone, name, email} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestNumberChangeNeverMergesIntoANumberWithData: the new number already
// has a conversation of its own (a reassigned number): nothing is merged
// into it, and the old number's data is erased all the same.
func TestNumberChangeNeverMergesIntoANumberWithData(t *testing.T) {
	const oldPhone, newPhone = "15550007001", "15550007002"
	e := newEnv(t, envOptions{})
	for i, u := range []string{oldPhone, newPhone} {
		if st := e.post(t, textWebhook(u, "wamid.NM."+strconv.Itoa(i), "hi", time.Now())); st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
		e.graph.waitDelivered(t, u, 2)
	}
	if st := e.post(t, textWebhook(oldPhone, "wamid.NM.yes", "YES", time.Now())); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	e.graph.waitDelivered(t, oldPhone, 3)
	if st := e.post(t, whatsapptest.NumberChangeWebhook(testPNID, oldPhone, newPhone, "wamid.NM.system", time.Now())); st != http.StatusOK {
		t.Fatalf("number change: status %d", st)
	}
	e.shutdown(t)
	now := time.Now()
	if ex, err := e.vault.Export(e.vault.SubjectID("whatsapp", oldPhone), now); err != nil || ex.State != nil || len(ex.Consents) != 0 {
		t.Errorf("the old number still holds data: %+v, %v", ex, err)
	}
	ex, err := e.vault.Export(e.vault.SubjectID("whatsapp", newPhone), now)
	if err != nil || ex.State == nil || len(ex.Consents) != 0 {
		t.Errorf("the new number's export = %+v, %v; want its own conversation and not the old number's consent", ex, err)
	}
	e.wantMetrics(t, map[string]string{`parley_number_changes_total{outcome="refused_new_has_data"}`: "1"})
}

// TestWhatsAppHandshakeRejectsUnparsableChallenges: the GET handshake
// echoes only a challenge of digits; anything else is 400 and not echoed,
// even with the right verify token.
func TestWhatsAppHandshakeRejectsUnparsableChallenges(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, challenge := range []string{
		"<script>alert(1)</script>", "12ab", " 123", "123\n", "-1", "1.5", strings.Repeat("9", 65), "%",
	} {
		q := "hub.mode=subscribe&hub.verify_token=" + testVerify + "&hub.challenge=" + url.QueryEscape(challenge)
		status, body := e.get(t, "/webhook/whatsapp?"+q)
		if status != http.StatusBadRequest || strings.Contains(body, challenge) {
			t.Errorf("challenge %q: status %d, body %q; want 400 without the challenge", challenge, status, body)
		}
	}
	if status, body := e.get(t, "/webhook/whatsapp?hub.mode=subscribe&hub.verify_token="+testVerify+"&hub.challenge="+strings.Repeat("7", 64)); status != 200 || body != strings.Repeat("7", 64) {
		t.Errorf("64-digit challenge: status %d, body %q; want it echoed", status, body)
	}
	// A bad token is still refused first, whatever the challenge.
	if status, _ := e.get(t, "/webhook/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=abc"); status != http.StatusForbidden {
		t.Errorf("bad token and bad challenge: status %d, want 403", status)
	}
}

// TestRecoveryJudgesAgeAtReceipt: the age check is made when the webhook
// arrives, not when the message is processed. A message that was in time
// when it was stored and acknowledged, and then waited in the inbox through
// a three-day outage, still runs its turn at the next start (its replies
// are no longer allowed by the 24-hour window, so none is sent); a message
// already judged stale at receipt stays dropped.
func TestRecoveryJudgesAgeAtReceipt(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now, noStart: true})
	const inTime, stale = "15550006001", "15550006002"
	at := clock.Now()
	// What the webhook stored before the crash (the server's inbox payload).
	nanos := strconv.FormatInt(at.UnixNano(), 10)
	for _, m := range []struct{ user, id, payload string }{
		{inTime, "wamid.REC1", `{"id":"wamid.REC1","from":"` + inTime + `","type":"text","text":"hi","at":` + nanos + `}`},
		{stale, "wamid.REC2", `{"id":"wamid.REC2","at":` + nanos + `,"stale":true}`},
	} {
		if _, err := e.vault.InboxPut(m.id, e.vault.SubjectID("whatsapp", m.user), []byte(m.payload), at); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(72 * time.Hour)
	e.start(t)
	e.shutdown(t) // runs the recovered turns to the end

	if state, _, err := e.vault.LoadSubject(e.vault.SubjectID("whatsapp", inTime), clock.Now()); err != nil || state == nil {
		t.Errorf("the message accepted in time did not run after the outage: state %q, %v", state, err)
	}
	if state, _, _ := e.vault.LoadSubject(e.vault.SubjectID("whatsapp", stale), clock.Now()); state != nil {
		t.Errorf("the message judged stale at receipt ran after the restart")
	}
	if n := len(e.graph.all()); n != 0 {
		t.Errorf("%d messages sent three days after the customer wrote; the window allows none", n)
	}
	if got := e.metric(t, "parley_outbox_failed_total"); got != "2" {
		t.Errorf("parley_outbox_failed_total = %q, want 2 (both replies of the late turn held back)", got)
	}
	if st := e.stats(t); st.InboxPending != 0 {
		t.Errorf("inbox still holds %d messages", st.InboxPending)
	}
}
