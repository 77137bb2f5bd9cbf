package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
)

const testUser = "15550001234"

// TestWhatsAppBookingConversation runs flows/booking.yaml end to end over
// signed webhooks: durable inbox, engine, encrypted on-disk vault, outbox
// and sender. The replies are checked where they leave Parley, at the fake
// Graph API: how many each turn gets, and every send request byte for byte
// against testdata/booking_sends.golden (go test -run Booking -update).
func TestWhatsAppBookingConversation(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := newEnv(t, envOptions{backend: backend})
		perTurn := e.converse(t, testUser, "Ada", "ada@example.com")
		e.shutdown(t) // flushes the outbox: anything extra would show up now

		for i, turn := range bookingScript {
			if got := len(perTurn[i]); got != turn.replies {
				t.Errorf("turn %d (%q): %d replies, want %d", i+1, turn.text, got, turn.replies)
			}
		}
		calls := e.graph.all()
		if got := len(calls); got != 7 {
			t.Errorf("Graph API received %d requests, want 7", got)
		}
		if last := calls[len(calls)-1].text(); !strings.Contains(last, "ada@example.com") {
			t.Errorf("last reply %q does not contain the email", last)
		}
		for _, c := range calls {
			if want := "/" + testVersion + "/" + testPNID + "/messages"; c.Path != want {
				t.Errorf("request path %q, want %q", c.Path, want)
			}
			if want := "Bearer " + testToken; c.Auth != want {
				t.Errorf("Authorization %q, want %q", c.Auth, want)
			}
		}
		if st := e.stats(t); st.InboxPending != 0 || st.OutboxPending != 0 {
			t.Errorf("after the conversation: inbox %d, outbox %d pending; want 0, 0", st.InboxPending, st.OutboxPending)
		}
		checkGolden(t, "booking_sends.golden", goldenCalls(calls))
	})
}

// goldenCalls renders the send requests as indented JSON. Nothing in them
// is nondeterministic today (the fake's wamids are not part of a request);
// the recipient is the fixed test number.
func goldenCalls(calls []graphCall) []byte {
	type rec struct {
		Method string         `json:"method"`
		Path   string         `json:"path"`
		Auth   string         `json:"authorization"`
		Body   map[string]any `json:"body"`
	}
	out := make([]rec, 0, len(calls))
	for _, c := range calls {
		out = append(out, rec{Method: http.MethodPost, Path: c.Path, Auth: c.Auth, Body: c.Body})
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return append(b, '\n')
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("send requests differ from %s (rerun with -update and review the diff)\ngot:\n%s", path, got)
	}
}

// TestWhatsAppWebhookRejects covers what the webhook refuses, and that a
// refused delivery stores nothing.
func TestWhatsAppWebhookRejects(t *testing.T) {
	e := newEnv(t, envOptions{})
	good := textWebhook(testUser, "wamid.REJ1", "hi", time.Now())

	badSig := webhookRequest(good, false)
	badSig.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte("another secret"), good))
	gzipped := webhookRequest(good, true)
	gzipped.Header.Set("Content-Encoding", "gzip")
	tooLarge := bytes.Repeat([]byte(" "), whatsapp.MaxBodyBytes+1)
	copy(tooLarge, good) // valid JSON followed by spaces: only the size is wrong

	for _, tc := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"missing signature", webhookRequest(good, false), http.StatusUnauthorized},
		{"signature with another secret", badSig, http.StatusUnauthorized},
		{"signature of another body", func() *http.Request {
			r := webhookRequest(good, false)
			r.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(testSecret), []byte("{}")))
			return r
		}(), http.StatusUnauthorized},
		{"malformed signature header", func() *http.Request {
			r := webhookRequest(good, false)
			r.Header.Set(whatsapp.SignatureHeader, "sha1=00")
			return r
		}(), http.StatusUnauthorized},
		{"Content-Encoding present", gzipped, http.StatusUnsupportedMediaType},
		{"malformed JSON, signed", webhookRequest([]byte(`{"object":"whatsapp_business_account","entry":[`), true), http.StatusBadRequest},
		{"body over whatsapp.MaxBodyBytes, signed", webhookRequest(tooLarge, true), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.do(t, tc.req); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}

	// Over Fiber's own BodyLimit (MaxBodyBytes + 64 KiB) the request never
	// reaches the handler: fasthttp answers 413 from the Content-Length
	// header alone and closes the connection (app.Test returns an error
	// instead, and a client still writing the body sees a reset).
	base := e.listen(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /webhook/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-Hub-Signature-256: sha256=00\r\nContent-Length: %d\r\n\r\n", whatsapp.MaxBodyBytes+128<<10)
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("body over Fiber's BodyLimit: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body over Fiber's BodyLimit: status %d, want 413", resp.StatusCode)
	}

	e.shutdown(t)
	if st := e.stats(t); st.InboxPending != 0 || st.Subjects != 0 || st.OutboxPending != 0 {
		t.Errorf("refused deliveries stored something: inbox %d, subjects %d, outbox %d", st.InboxPending, st.Subjects, st.OutboxPending)
	}
	if n := len(e.graph.all()); n != 0 {
		t.Errorf("refused deliveries caused %d sends", n)
	}
	if got := e.metric(t, `parley_webhooks_total{result="bad_signature"}`); got != "4" {
		t.Errorf(`parley_webhooks_total{result="bad_signature"} = %q, want 4`, got)
	}
}

// TestWhatsAppDuplicatesProcessedOnce: Meta redelivers; the same wamid
// three times (twice in a row, once after the turn was done) is one turn
// and one set of replies.
func TestWhatsAppDuplicatesProcessedOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := newEnv(t, envOptions{backend: backend})
		body := textWebhook(testUser, "wamid.DUP1", "hi", time.Now())
		for i := range 2 {
			if st := e.post(t, body); st != http.StatusOK {
				t.Fatalf("delivery %d: status %d", i+1, st)
			}
		}
		e.graph.waitDelivered(t, testUser, 2)
		if st := e.post(t, body); st != http.StatusOK { // replay after the turn
			t.Fatalf("replay: status %d", st)
		}
		e.shutdown(t)
		if got := len(e.graph.all()); got != 2 {
			t.Errorf("Graph API received %d requests, want 2 (one turn's replies)", got)
		}
		if got := e.metric(t, `parley_turns_total{channel="whatsapp"}`); got != "1" {
			t.Errorf("turns = %q, want 1", got)
		}
		if got := e.metric(t, `parley_webhooks_total{result="duplicate"}`); got != "2" {
			t.Errorf("duplicate webhooks = %q, want 2", got)
		}
	})
}

// TestWhatsAppInterleavedSubjects: deliveries for two customers arrive
// interleaved; each conversation still gets its own replies, in order.
func TestWhatsAppInterleavedSubjects(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := newEnv(t, envOptions{backend: backend})
		users := []struct{ phone, name, email string }{
			{"15550002001", "Ada", "ada@example.com"},
			{"15550002002", "Grace", "grace@example.com"},
		}
		want := 0
		for i, turn := range bookingScript {
			want += turn.replies
			for _, u := range users {
				text := strings.NewReplacer("Ada", u.name, "ada@example.com", u.email).Replace(turn.text)
				if st := e.post(t, textWebhook(u.phone, fmt.Sprintf("wamid.%s.%d", u.phone, i), text, time.Now())); st != 200 {
					t.Fatalf("status %d", st)
				}
			}
		}
		for _, u := range users {
			e.graph.waitDelivered(t, u.phone, 7)
		}
		e.shutdown(t)
		ref := referenceTexts(t)
		for _, u := range users {
			got := textsOf(e.graph.deliveredTo(u.phone))
			want := strings.NewReplacer("Ada", u.name, "ada@example.com", u.email).Replace(strings.Join(ref, "\n"))
			if strings.Join(got, "\n") != want {
				t.Errorf("%s received:\n%s\nwant:\n%s", u.name, strings.Join(got, "\n"), want)
			}
		}
	})
}

// TestWhatsAppOneSubjectOutOfOrder documents what happens when Meta
// delivers one customer's messages out of order in separate deliveries:
// Parley answers deliveries in arrival order (only the messages of one
// delivery are sorted by timestamp, see
// TestWebhookReversedBatchRunsInTimestampOrder), so "YES" arriving before
// "hi" starts the conversation and "hi" becomes the answer to the consent
// question.
func TestWhatsAppOneSubjectOutOfOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := newEnv(t, envOptions{backend: backend})
		now := time.Now()
		if st := e.post(t, textWebhook(testUser, "wamid.OOO2", "YES", now)); st != 200 {
			t.Fatalf("status %d", st)
		}
		e.graph.waitDelivered(t, testUser, 2)
		if st := e.post(t, textWebhook(testUser, "wamid.OOO1", "hi", now.Add(-time.Second))); st != 200 {
			t.Fatalf("status %d", st)
		}
		e.graph.waitDelivered(t, testUser, 3)
		e.shutdown(t)
		got := textsOf(e.graph.deliveredTo(testUser))
		ref := referenceTexts(t)
		if got[0] != ref[0] || got[1] != ref[1] {
			t.Errorf("first message of the conversation (the late \"YES\") got %q, want the greeting and consent question %q", got[:2], ref[:2])
		}
		if got := e.metric(t, `parley_turns_total{channel="whatsapp"}`); got != "2" {
			t.Errorf("turns = %q, want 2", got)
		}
		t.Logf("reply to the late \"hi\": %q", got[2])
	})
}

// TestWhatsAppStatusCallbacks: statuses for message ids Parley did not send
// are counted as unknown and ignored; a "failed" status with 131047 for a
// message Parley sent closes the customer-service window, so a reply of the
// same conversation that is still waiting (here, being retried) is not sent
// and is counted as failed.
func TestWhatsAppStatusCallbacks(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		second, release := make(chan struct{}), make(chan struct{})
		e := newEnv(t, envOptions{backend: backend,
			// Call 2 is the second reply to "hi": hold it until the status
			// callback closed the window, then fail it with a retryable error.
			// (It starts only after the sender recorded call 1's wamid.)
			before: func(n int, _ map[string]any) {
				if n == 2 {
					close(second)
					<-release
				}
			},
			fail: func(n int, _ map[string]any) (int, string) {
				if n == 2 {
					return http.StatusServiceUnavailable, `{"error":{"message":"try later","code":131000}}`
				}
				return 0, ""
			},
		})
		var releaseOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		t.Cleanup(unblock) // a failure must not leave the fake blocked
		for _, st := range []string{"sent", "delivered", "read", "failed"} {
			if got := e.post(t, statusWebhook("wamid.NEVER-SENT", st, testUser, 0)); got != http.StatusOK {
				t.Fatalf("status callback: %d", got)
			}
		}
		if got := e.metric(t, `parley_status_callbacks_total{status="unknown"}`); got != "4" {
			t.Errorf(`unknown status callbacks = %q, want 4`, got)
		}
		if n := len(e.graph.all()); n != 0 {
			t.Errorf("status callbacks caused %d sends", n)
		}

		if st := e.post(t, textWebhook(testUser, "wamid.W1", "hi", time.Now())); st != 200 {
			t.Fatalf("status %d", st)
		}
		<-second // wamid.OUT1, the greeting, was sent and recorded
		if got := e.post(t, statusWebhook("wamid.OUT1", "failed", testUser, 131047)); got != http.StatusOK {
			t.Fatalf("status callback: %d", got)
		}
		unblock()
		e.shutdown(t)

		if got := e.metric(t, `parley_status_callbacks_total{status="failed"}`); got != "1" {
			t.Errorf(`failed status callbacks = %q, want 1`, got)
		}
		if got := e.metric(t, "parley_outbox_failed_total"); got != "1" {
			t.Errorf("parley_outbox_failed_total = %q, want 1 (the reply held back by the closed window)", got)
		}
		if got := len(e.graph.all()); got != 2 {
			t.Errorf("Graph API received %d requests, want 2 (greeting; consent question refused once, then not retried)", got)
		}
		if st := e.stats(t); st.OutboxPending != 0 {
			t.Errorf("outbox pending %d, want 0", st.OutboxPending)
		}
	})
}

// TestWhatsAppSendRetries: the Graph API throttles (429, code 130429) and
// fails (5xx) for its first calls, then recovers. Every reply still reaches
// each customer exactly once and in order.
func TestWhatsAppSendRetries(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		const failFirst = 8
		e := newEnv(t, envOptions{backend: backend, fail: func(n int, _ map[string]any) (int, string) {
			switch {
			case n > failFirst:
				return 0, ""
			case n%2 == 1:
				return http.StatusTooManyRequests, `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}`
			default:
				return http.StatusBadGateway, `<html>bad gateway</html>`
			}
		}})
		users := []string{"15550003001", "15550003002", "15550003003"}
		var wg sync.WaitGroup
		for _, u := range users {
			wg.Go(func() { e.converse(t, u, "Ada", "ada@example.com") })
		}
		wg.Wait()
		e.shutdown(t)

		ref := strings.Join(referenceTexts(t), "\n")
		for _, u := range users {
			if got := strings.Join(textsOf(e.graph.deliveredTo(u)), "\n"); got != ref {
				t.Errorf("%s received:\n%s\nwant:\n%s", u, got, ref)
			}
		}
		if got, want := len(e.graph.all()), 3*7+failFirst; got != want {
			t.Errorf("Graph API received %d requests, want %d (21 replies + %d refused)", got, want, failFirst)
		}
		if got := e.metric(t, "parley_outbox_retries_total"); got != fmt.Sprint(failFirst) {
			t.Errorf("parley_outbox_retries_total = %q, want %d", got, failFirst)
		}
	})
}

// TestWhatsAppHandshake: Meta's GET subscription check.
func TestWhatsAppHandshake(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name, query string
		status      int
		body        string
	}{
		{"right token", "hub.mode=subscribe&hub.verify_token=" + testVerify + "&hub.challenge=1158201444", 200, "1158201444"},
		{"wrong token", "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444", 403, ""},
		{"no token", "hub.mode=subscribe&hub.challenge=1158201444", 403, ""},
		{"wrong mode", "hub.mode=unsubscribe&hub.verify_token=" + testVerify + "&hub.challenge=1", 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.get(t, "/webhook/whatsapp?"+tc.query)
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
		})
	}
}

// TestWhatsAppLogsHoldNoPersonalData captures every log line of a whole
// conversation at debug level (server and vault) and the /metrics page, and
// looks for the phone number, the name, the email and what the customer
// typed.
func TestWhatsAppLogsHoldNoPersonalData(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		const (
			phone = "15557770123"
			name  = "Zebulonia"
			email = "zebulonia.canary@example.com"
		)
		var logs syncBuffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		e := newEnv(t, envOptions{backend: backend, logger: logger, webChat: true, tokens: "dpo:dpo-token-0123456789",
			// After the conversation, the Graph API refuses both replies to a
			// new "hi": undeliverable (131026), so the sender logs a failure.
			fail: func(n int, _ map[string]any) (int, string) {
				if n > 7 {
					return http.StatusBadRequest, `{"error":{"message":"(#131026) Message Undeliverable.","code":131026}}`
				}
				return 0, ""
			}})
		e.converse(t, phone, name, email)
		e.post(t, textWebhook(phone, "wamid.AGAIN", "hi", time.Now()))
		e.graph.waitFor(t, "the refused replies", func() bool { return len(e.graph.all()) == 9 })
		// A duplicate, a bad signature, an unknown status and a failed status
		// of a sent message.
		e.post(t, textWebhook(phone, "wamid.IN."+phone+".0", "hi", time.Now()))
		e.do(t, webhookRequest(textWebhook(phone, "wamid.X", "not-an-email", time.Now()), false))
		e.post(t, statusWebhook("wamid.UNKNOWN", "read", phone, 0))
		e.post(t, statusWebhook("wamid.OUT7", "failed", phone, 131047))
		// Admin requests log: export, then erase.
		for _, path := range []string{"/admin/v1/subjects/export", "/admin/v1/subjects/erase"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"channel":"whatsapp","user":"`+phone+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer dpo-token-0123456789")
			if st := e.do(t, req); st != 200 {
				t.Errorf("%s: %d", path, st)
			}
		}
		_, metrics := e.get(t, "/metrics")
		e.shutdown(t)
		if got := e.metric(t, "parley_outbox_failed_total"); got != "2" {
			t.Errorf("parley_outbox_failed_total = %q, want 2", got)
		}

		for what, out := range map[string]string{"log": logs.String(), "/metrics": metrics} {
			for _, canary := range []string{phone, name, email, "not-an-email", "Zebulonia"} {
				if strings.Contains(out, canary) {
					t.Errorf("%s output contains %q", what, canary)
				}
			}
		}
		for _, want := range []string{"reply failed permanently", "admin request", "subject="} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the log lacks %q, so the scan proves less than it should:\n%s", want, logs.String())
			}
		}
	})
}

// TestHealthReadyMetrics: liveness always, readiness only between Start and
// Shutdown, and the Prometheus page.
func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t, envOptions{noStart: true})
	if st, _ := e.get(t, "/healthz"); st != 200 {
		t.Errorf("/healthz before Start: %d, want 200", st)
	}
	if st, _ := e.get(t, "/readyz"); st != 503 {
		t.Errorf("/readyz before Start: %d, want 503", st)
	}
	e.start(t)
	if st, _ := e.get(t, "/readyz"); st != 200 {
		t.Errorf("/readyz after Start: %d, want 200", st)
	}
	e.converse(t, testUser, "Ada", "ada@example.com")
	e.shutdown(t) // the last send is counted after the fake answered it
	if st, _ := e.get(t, "/readyz"); st != 503 {
		t.Errorf("/readyz after Shutdown: %d, want 503", st)
	}
	st, body := e.get(t, "/metrics")
	if st != 200 {
		t.Fatalf("/metrics: %d", st)
	}
	for _, want := range []string{
		`parley_turns_total{channel="whatsapp"} 6`,
		`parley_webhooks_total{result="ok"} 6`,
		"parley_outbox_sent_total 7",
		"parley_turn_seconds_count 6",
		"parley_outbox_depth ",
		"parley_outbox_duplicate_sends_total 0",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestGracefulShutdown: Shutdown while a turn's replies are still being
// sent turns readiness off at once, lets the turn finish and its replies go
// out, and leaves a vault that closes cleanly with nothing pending.
func TestGracefulShutdown(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		inSend := make(chan struct{})
		release := make(chan struct{})
		e := newEnv(t, envOptions{backend: backend, before: func(n int, _ map[string]any) {
			if n == 1 {
				close(inSend)
				<-release
			}
		}})
		var releaseOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		t.Cleanup(unblock) // runs before the env's cleanups, so a failure cannot hang them
		if st := e.post(t, textWebhook(testUser, "wamid.G1", "hi", time.Now())); st != 200 {
			t.Fatalf("status %d", st)
		}
		<-inSend // the first reply is at the Graph API, the second queued behind it
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			done <- e.srv.Shutdown(ctx)
		}()
		e.stopped = true
		// Readiness goes off first thing in Shutdown; poll for it.
		deadline := time.Now().Add(waitLimit)
		for {
			resp, err := e.srv.App().Test(httptest.NewRequest(http.MethodGet, "/readyz", nil), -1)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("/readyz did not turn 503 after Shutdown began")
			}
			select {
			case err := <-done:
				t.Fatalf("Shutdown returned (%v) while a send was held", err)
			case <-time.After(time.Millisecond):
			}
		}
		unblock()
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if got := len(e.graph.delivered()); got != 2 {
			t.Errorf("after Shutdown %d replies were delivered, want 2", got)
		}
		if st := e.stats(t); st.InboxPending != 0 || st.OutboxPending != 0 {
			t.Errorf("after Shutdown: inbox %d, outbox %d pending; want 0, 0", st.InboxPending, st.OutboxPending)
		}
		if err := e.vault.Close(); err != nil {
			t.Errorf("vault Close after Shutdown: %v", err)
		}
	})
}

// referenceTexts are the texts of the golden conversation's replies.
func referenceTexts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "booking_sends.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct{ Body map[string]any }
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, graphCall{Body: r.Body}.text())
	}
	return out
}

func textsOf(calls []graphCall) []string {
	out := make([]string, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.text())
	}
	return out
}
