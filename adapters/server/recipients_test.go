package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/session"
)

// recipientCall is one request an integration endpoint received.
type recipientCall struct {
	Path, Auth, Ref string
	Body            map[string]any
	Raw             string
}

// fakeRecipient is an integration on a loopback TLS server (integrations
// are called over https only). It records every request.
type fakeRecipient struct {
	*httptest.Server
	mu    sync.Mutex
	calls []recipientCall
	got   chan recipientCall
	fail  bool // answer 503
	// answer, when set, is the body of every 2xx answer.
	answer string
}

func newFakeRecipient(t *testing.T) *fakeRecipient {
	r := &fakeRecipient{got: make(chan recipientCall, 64)}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		c := recipientCall{Path: req.URL.Path, Auth: req.Header.Get("Authorization"), Ref: req.Header.Get(server.RefHeader), Raw: string(raw)}
		json.Unmarshal(raw, &c.Body)
		r.mu.Lock()
		r.calls = append(r.calls, c)
		fail, answer := r.fail, r.answer
		r.mu.Unlock()
		r.got <- c
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, answer)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *fakeRecipient) all() []recipientCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recipientCall(nil), r.calls...)
}

// next waits for the next request to path.
func (r *fakeRecipient) next(t *testing.T, path string) recipientCall {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		select {
		case c := <-r.got:
			if c.Path == path {
				return c
			}
		case <-deadline.C:
			t.Fatalf("integration endpoint: no request to %s after %s", path, waitLimit)
		}
	}
}

// integrationFlow is a flow that asks one consent-based field and sends it
// to an integration named crm at base.
func integrationFlow(id, purpose, field, fieldType, special, base, secretEnv string) string {
	sp := ""
	if special != "" {
		sp = ", special: " + special
	}
	return fmt.Sprintf(`parley: 1
id: %[1]s
version: 1
description: Test flow %[1]s.
languages: [en]
controller:
  name: %[1]s Ltd
  contact: privacy@%[1]s.example
  privacy_url: https://%[1]s.example/privacy
purposes:
  %[2]s:
    basis: consent
    description: to pass your answer to our %[2]s system
fields:
  %[3]s: { type: %[4]s, purpose: %[2]s, retention: 30d%[5]s }
integrations:
  crm:
    url: %[6]s/%[2]s
    purpose: %[2]s
    sends: [%[3]s]
    secret_env: %[7]s
    on_erase: %[6]s/erase
    on_stop: %[6]s/stop
start: ask
steps:
  ask:
    ask: Please tell us your %[3]s.
    save: %[3]s
  push:
    call: crm
  done:
    say: Thank you.
    end: true
`, id, purpose, field, fieldType, sp, base, secretEnv)
}

// recipientsEnv serves booking plus two flows, clinic and shop, that both
// declare an integration named crm, on different endpoints with different
// tokens and purposes.
func recipientsEnv(t *testing.T, o envOptions) (*env, *fakeRecipient, *fakeRecipient) {
	clinic, shop := newFakeRecipient(t), newFakeRecipient(t)
	secrets := map[string]string{"CLINIC_TOKEN": "clinic-secret-token", "SHOP_TOKEN": "shop-secret-token"}
	o.files = map[string]string{
		"clinic.yaml": integrationFlow("clinic", "care", "symptom", "text", "health", clinic.URL, "CLINIC_TOKEN"),
		"shop.yaml":   integrationFlow("shop", "marketing", "email", "email", "", shop.URL, "SHOP_TOKEN"),
	}
	// httptest's TLS servers share one certificate, so one client trusts both.
	o.caller = &server.HTTPCaller{Getenv: func(k string) string { return secrets[k] }, Client: clinic.Client()}
	e := newEnv(t, o)
	o.caller.Ref = session.New(e.vault).RecipientRef
	return e, clinic, shop
}

// TestSameIntegrationNameStaysInItsFlow: two flows declare an integration
// named crm. Each flow's call reaches its own URL with its own token and
// only its own sends: the clinic's health answer never reaches the shop's
// marketing system, and the shop's email never reaches the clinic.
func TestSameIntegrationNameStaysInItsFlow(t *testing.T) {
	e, clinic, shop := recipientsEnv(t, envOptions{webChat: true})
	const symptom, email = "CANARY-chest-pain-4411", "canary.shopper@example.com"
	for _, turn := range []struct{ flow, user, text string }{
		{"shop", "web-shopper", "hi"}, {"shop", "web-shopper", "YES"}, {"shop", "web-shopper", email},
		{"clinic", "web-patient", "hi"}, {"clinic", "web-patient", "YES"}, {"clinic", "web-patient", symptom},
	} {
		e.webTurn(t, turn.flow, turn.user, turn.text)
	}

	sc, cc := shop.all(), clinic.all()
	if len(sc) != 1 || len(cc) != 1 {
		t.Fatalf("shop endpoint got %d requests, clinic endpoint %d; want one each:\nshop: %+v\nclinic: %+v", len(sc), len(cc), sc, cc)
	}
	if c := sc[0]; c.Path != "/marketing" || c.Auth != "Bearer shop-secret-token" || c.Raw != `{"email":"`+email+`"}` {
		t.Errorf("shop's crm got %s with %q: %s; want /marketing, the shop's token and only the email", c.Path, c.Auth, c.Raw)
	}
	if c := cc[0]; c.Path != "/care" || c.Auth != "Bearer clinic-secret-token" || c.Raw != `{"symptom":"`+symptom+`"}` {
		t.Errorf("clinic's crm got %s with %q: %s; want /care, the clinic's token and only the symptom", c.Path, c.Auth, c.Raw)
	}
	if strings.Contains(sc[0].Raw, symptom) || strings.Contains(cc[0].Raw, email) {
		t.Error("one flow's answer reached the other flow's integration")
	}
	// Each call names the subject by a pseudonymous reference of its own.
	for _, c := range []recipientCall{sc[0], cc[0]} {
		if len(c.Ref) != 64 {
			t.Errorf("call to %s carries recipient reference %q, want 64 hex digits", c.Path, c.Ref)
		}
	}
	if sc[0].Ref == cc[0].Ref {
		t.Error("two recipients got the same reference")
	}
	for _, user := range []string{"web-shopper", "web-patient"} {
		if subj := e.vault.SubjectID("web", e.visitorID(user)).Hex(); sc[0].Ref == subj || cc[0].Ref == subj {
			t.Error("a recipient reference is the subject id itself")
		}
	}
}

// TestStopAndErasureNoticeTheRecipients: a WhatsApp customer who typed a
// health answer types STOP, and the clinic's integration receives a stop
// notice; a second customer is erased by a DPO through the admin API, a
// third types DELETE MY DATA, and the integration receives erasure notices. Notices name the subject only
// by the reference the integration already had, carry a receipt id, and
// hold no answer, phone number or subject id; the export and the erasure
// receipt list them.
func TestStopAndErasureNoticeTheRecipients(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e, clinic, shop := recipientsEnv(t, envOptions{backend: backend, waFlow: "clinic", tokens: "operator:" + operatorToken + ",dpo:" + dpoToken})
		const stopper, eraser, chatEraser = "15550007001", "15550007002", "15550007003"
		canaries := map[string]string{stopper: "CANARY-migraine-5150", eraser: "CANARY-rash-6160", chatEraser: "CANARY-fever-7170"}
		say := func(user, id, text string) {
			t.Helper()
			if st := e.post(t, textWebhook(user, id, text, time.Now())); st != http.StatusOK {
				t.Fatalf("webhook answered %d", st)
			}
		}
		refs := map[string]string{}
		for _, user := range []string{stopper, eraser, chatEraser} {
			say(user, "wamid.R1."+user, "hi")
			say(user, "wamid.R2."+user, "YES")
			say(user, "wamid.R3."+user, canaries[user])
			c := clinic.next(t, "/care")
			if c.Raw != `{"symptom":"`+canaries[user]+`"}` {
				t.Fatalf("clinic call body %s", c.Raw)
			}
			refs[user] = c.Ref
		}
		checkNotice := func(c recipientCall, event, user string) string {
			t.Helper()
			if c.Auth != "Bearer clinic-secret-token" {
				t.Errorf("%s notice sent with %q, want the clinic's token", event, c.Auth)
			}
			if c.Body["event"] != event || c.Body["recipient_ref"] != refs[user] || c.Body["integration"] != "crm" || c.Body["flow"] != "clinic" {
				t.Errorf("%s notice %s; want event %s and the reference of the call (%s)", event, c.Raw, event, refs[user])
			}
			receipt, _ := c.Body["receipt"].(string)
			if len(receipt) != 32 {
				t.Errorf("%s notice receipt %q, want 32 hex digits", event, receipt)
			}
			if _, err := time.Parse(time.RFC3339, fmt.Sprint(c.Body["at"])); err != nil {
				t.Errorf("%s notice time %v: %v", event, c.Body["at"], err)
			}
			for _, secret := range []string{canaries[stopper], canaries[eraser], canaries[chatEraser], stopper, eraser, chatEraser,
				e.vault.SubjectID("whatsapp", user).Hex()} {
				if strings.Contains(c.Raw, secret) {
					t.Errorf("%s notice holds personal data: %s", event, c.Raw)
				}
			}
			return receipt
		}

		say(stopper, "wamid.R4."+stopper, "STOP")
		stopReceipt := checkNotice(clinic.next(t, "/stop"), "stop", stopper)

		subject := `{"channel":"whatsapp","user":"` + stopper + `"}`
		status, ex := e.adminCall(t, http.MethodPost, "/subjects/export", operatorToken, subject)
		if status != 200 {
			t.Fatalf("export: %d %v", status, ex)
		}
		recips, _ := ex["recipients"].([]any)
		if len(recips) != 1 {
			t.Fatalf("export lists recipients %v, want clinic's crm", ex["recipients"])
		}
		r, _ := recips[0].(map[string]any)
		notices, _ := r["notices"].([]any)
		if r["flow"] != "clinic" || r["integration"] != "crm" || r["purpose"] != "care" || len(notices) != 1 {
			t.Fatalf("exported recipient %v, want clinic/crm for care with one notice", r)
		}
		if n, _ := notices[0].(map[string]any); n["event"] != "stop" || n["receipt"] != stopReceipt || n["at"] == nil {
			t.Errorf("exported notice %v, want the stop notice %s with its time", n, stopReceipt)
		}

		status, out := e.adminCall(t, http.MethodPost, "/subjects/erase", dpoToken, `{"channel":"whatsapp","user":"`+eraser+`"}`)
		if status != 200 {
			t.Fatalf("erase: %d %v", status, out)
		}
		eraseReceipt := checkNotice(clinic.next(t, "/erase"), "erase", eraser)
		notified, _ := out["recipients_notified"].([]any)
		if len(notified) != 1 {
			t.Fatalf("erasure receipt lists %v, want the clinic's crm", out["recipients_notified"])
		}
		if n, _ := notified[0].(map[string]any); n["flow"] != "clinic" || n["integration"] != "crm" || n["event"] != "erase" || n["receipt"] != eraseReceipt {
			t.Errorf("erasure receipt lists %v, want clinic/crm with receipt %s", n, eraseReceipt)
		}
		// DELETE MY DATA in the chat tells the recipient too.
		say(chatEraser, "wamid.R4."+chatEraser, "DELETE MY DATA")
		say(chatEraser, "wamid.R5."+chatEraser, "YES")
		checkNotice(clinic.next(t, "/erase"), "erase", chatEraser)

		if len(shop.all()) != 0 {
			t.Errorf("the shop's integration, which got nothing, was sent %+v", shop.all())
		}
		// Shutdown lets a delivery under way finish: then every notice was
		// delivered once and has left the queue.
		e.shutdown(t)
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(e.srv.Metrics().Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		for event, want := range map[string]string{"stop": "1", "erase": "2"} {
			sample := `parley_recipient_notices_total{event="` + event + `",result="delivered"}`
			if got := metricValue(rec.Body.String(), sample); got != want {
				t.Errorf("%s = %q, want %s", sample, got, want)
			}
		}
		if due, err := e.vault.DueNotices(time.Now().Add(time.Hour), 10); err != nil || len(due) != 0 {
			t.Errorf("queue after delivery: %d notices, %v; want none", len(due), err)
		}

		// An erasure while no server runs (what parley subject erase does)
		// queues its notice durably; the next server start delivers it.
		rc, err := session.EraseSubject(e.vault, e.vault.SubjectID("whatsapp", stopper), time.Now())
		if err != nil || len(rc.Notified) != 1 {
			t.Fatalf("offline erasure: %+v, %v; want one recipient notified", rc, err)
		}
		flows, report, err := server.LoadFlows(e.flowsDir)
		if err != nil {
			t.Fatalf("LoadFlows: %v\n%s", err, report)
		}
		caller := &server.HTTPCaller{Getenv: func(string) string { return "clinic-secret-token" }, Client: clinic.Client()}
		srv, err := server.New(server.Config{Store: session.New(e.vault), Flows: flows, SweepEvery: -1, Notices: caller})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := checkNotice(clinic.next(t, "/erase"), "erase", stopper); got != rc.Notified[0].Receipt {
			t.Errorf("delivered receipt %s, want the one on the erasure receipt %s", got, rc.Notified[0].Receipt)
		}
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	})
}
