package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/session"
)

// remindEnv serves flows/dental.yaml on WhatsApp with a clock the test
// moves, starting on 2 March 2026, 09:00 UTC.
type remindEnv struct {
	*env
	mu  sync.Mutex
	now time.Time
	n   int
}

func newRemindEnv(t *testing.T) *remindEnv {
	t.Helper()
	src, err := os.ReadFile("../../flows/dental.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &remindEnv{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	r.env = newEnv(t, envOptions{now: r.clock, files: map[string]string{"dental.yaml": string(src)}, waFlow: "dental"})
	return r
}

func (r *remindEnv) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }

func (r *remindEnv) setClock(t time.Time) { r.mu.Lock(); r.now = t; r.mu.Unlock() }

// say sends text from user over a signed webhook and waits for a reply to
// user that contains want.
func (r *remindEnv) say(t *testing.T, user, text, want string) {
	t.Helper()
	r.n++
	before := len(r.graph.deliveredTo(user))
	if st := r.post(t, textWebhook(user, fmt.Sprintf("wamid.IN.%s.%d", user, r.n), text, r.clock())); st != http.StatusOK {
		t.Fatalf("%q: webhook answered %d", text, st)
	}
	r.graph.waitFor(t, fmt.Sprintf("a reply with %q", want), func() bool {
		for _, c := range r.graph.deliveredTo(user)[before:] {
			if strings.Contains(c.text(), want) {
				return true
			}
		}
		return false
	})
}

// book runs the dental conversation in Italian up to the booking of day.
func (r *remindEnv) book(t *testing.T, user, day string) {
	t.Helper()
	r.say(t, user, "ciao", "data di nascita")
	r.say(t, user, "06/05/1990", "Sei d'accordo?")
	r.say(t, user, "NO", "Che giorno")
	r.say(t, user, day, "Fatto: ti aspettiamo")
}

// templates returns the template sends to user: name, language, params.
func (r *remindEnv) templates(user string) []string {
	var out []string
	for _, c := range r.graph.deliveredTo(user) {
		tp, ok := c.Body["template"].(map[string]any)
		if !ok {
			continue
		}
		lang, _ := tp["language"].(map[string]any)
		var params []string
		comps, _ := tp["components"].([]any)
		for _, cp := range comps {
			ps, _ := cp.(map[string]any)["parameters"].([]any)
			for _, p := range ps {
				s, _ := p.(map[string]any)["text"].(string)
				params = append(params, s)
			}
		}
		out = append(out, fmt.Sprintf("%v/%v%v", tp["name"], lang["code"], params))
	}
	return out
}

func (r *remindEnv) runReminders(t *testing.T) (queued, cancelled int) {
	t.Helper()
	q, c, err := r.srv.RunReminders(context.Background())
	if err != nil {
		t.Fatalf("RunReminders: %v", err)
	}
	return q, c
}

// TestDentalReminderDeliveredAtItsTimeOnce: booking 6 May over signed
// webhooks schedules flows/dental.yaml's reminder for 5 May, 09:00 UTC;
// it is not sent a minute earlier, is sent at that time through the fake
// Graph API as the approved template with the day as {{1}}, and a second
// pass does not send it again.
func TestDentalReminderDeliveredAtItsTimeOnce(t *testing.T) {
	r := newRemindEnv(t)
	const user = "393330001111"
	r.book(t, user, "06/05/2026")
	due := time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC)
	r.setClock(due.Add(-time.Minute))
	if q, _ := r.runReminders(t); q != 0 {
		t.Fatalf("%d reminders queued a minute early", q)
	}
	r.setClock(due)
	if q, c := r.runReminders(t); q != 1 || c != 0 {
		t.Fatalf("at its time: %d queued, %d cancelled; want 1 queued", q, c)
	}
	r.graph.waitFor(t, "the reminder template", func() bool { return len(r.templates(user)) == 1 })
	if got, want := r.templates(user), []string{"promemoria_visita/it[2026-05-06]"}; !slices.Equal(got, want) {
		t.Fatalf("templates sent = %v, want %v", got, want)
	}
	r.setClock(due.Add(time.Hour))
	if q, _ := r.runReminders(t); q != 0 {
		t.Fatalf("the reminder was queued a second time")
	}
	r.shutdown(t)
	if got := r.templates(user); len(got) != 1 {
		t.Fatalf("templates sent = %v, want one", got)
	}
}

// TestDentalReminderCancelled: STOP, an erasure (DELETE MY DATA, then yes)
// and the expiry of the day (a visit booked further ahead than the day's
// 90-day retention) each leave nothing to send at the reminder's time, and
// no template reaches the fake Graph API.
func TestDentalReminderCancelled(t *testing.T) {
	cases := []struct {
		name, day string
		due       time.Time
		after     func(r *remindEnv, t *testing.T, user string)
	}{
		{"stop", "06/05/2026", time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC), func(r *remindEnv, t *testing.T, user string) {
			r.say(t, user, "STOP", "Fatto")
		}},
		{"erasure", "06/05/2026", time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC), func(r *remindEnv, t *testing.T, user string) {
			r.say(t, user, "DELETE MY DATA", "")
			r.say(t, user, "SI", "abbiamo cancellato")
		}},
		{"expiry", "01/07/2026", time.Date(2026, 6, 30, 9, 0, 0, 0, time.UTC), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRemindEnv(t)
			const user = "393330002222"
			r.book(t, user, tc.day)
			if tc.after != nil {
				tc.after(r, t, user)
			}
			r.setClock(tc.due)
			q, _ := r.runReminders(t)
			r.setClock(tc.due.Add(2 * time.Hour))
			q2, _ := r.runReminders(t)
			r.shutdown(t)
			if q+q2 != 0 || len(r.templates(user)) != 0 {
				t.Fatalf("after %s: %d reminders queued, templates sent %v; want none", tc.name, q+q2, r.templates(user))
			}
		})
	}
}

// TestReminderSurvivesARestart: the reminder scheduled by one server is
// delivered, once, by a new server on the same data: nothing of it was
// held in the first one's memory.
func TestReminderSurvivesARestart(t *testing.T) {
	r := newRemindEnv(t)
	const user = "393330003333"
	r.book(t, user, "06/05/2026")
	r.shutdown(t)

	flows, report, err := server.LoadFlows(r.flowsDir)
	if err != nil {
		t.Fatalf("LoadFlows: %v\n%s", err, report)
	}
	srv, err := server.New(server.Config{
		Store: session.New(r.vault), Flows: flows, SweepEvery: -1, Now: r.clock,
		WhatsApp: &server.WhatsAppConfig{
			AppSecret: testSecret, AccessToken: testToken, VerifyToken: testVerify, PhoneNumberID: testPNID,
			Flow: "dental", GraphURL: r.graph.URL, APIVersion: testVersion, RetryDelay: fastRetry,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.setClock(time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC))
	if q, _, err := srv.RunReminders(ctx); err != nil || q != 1 {
		t.Fatalf("the new server queued %d reminders (%v), want 1", q, err)
	}
	if q, _, _ := srv.RunReminders(ctx); q != 0 {
		t.Fatalf("a second pass queued %d more", q)
	}
	r.graph.waitFor(t, "the reminder template", func() bool { return len(r.templates(user)) == 1 })
	sctx, scancel := context.WithTimeout(context.Background(), waitLimit)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if got := r.templates(user); !slices.Equal(got, []string{"promemoria_visita/it[2026-05-06]"}) {
		t.Fatalf("templates sent = %v, want the reminder once", got)
	}
}

// TestDentalReminderFollowsANumberChange: a customer books from one number
// and WhatsApp then reports their number change; at the reminder's time the
// template goes to the new number, and nothing more to the old one (which
// may already belong to someone else).
func TestDentalReminderFollowsANumberChange(t *testing.T) {
	r := newRemindEnv(t)
	const oldPhone, newPhone = "393330002221", "393330002222"
	r.book(t, oldPhone, "06/05/2026")
	sentOld := len(r.graph.deliveredTo(oldPhone))
	r.n++
	if st := r.post(t, whatsapptest.NumberChangeWebhook(testPNID, oldPhone, newPhone, "wamid.NC.dental", r.clock())); st != http.StatusOK {
		t.Fatalf("number change webhook answered %d", st)
	}
	oldSubject := r.vault.SubjectID("whatsapp", oldPhone)
	r.graph.waitFor(t, "the move", func() bool {
		ex, err := r.vault.Export(oldSubject, r.clock())
		return err == nil && ex.State == nil
	})
	r.setClock(time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC))
	if q, c := r.runReminders(t); q != 1 || c != 0 {
		t.Fatalf("at its time: %d queued, %d cancelled; want the moved reminder queued", q, c)
	}
	r.graph.waitFor(t, "the reminder at the new number", func() bool { return len(r.templates(newPhone)) == 1 })
	r.shutdown(t)
	if got, want := r.templates(newPhone), []string{"promemoria_visita/it[2026-05-06]"}; !slices.Equal(got, want) {
		t.Errorf("templates sent to the new number = %v, want %v", got, want)
	}
	if n := len(r.graph.deliveredTo(oldPhone)); n != sentOld {
		t.Errorf("the old number was sent %d more messages after the change", n-sentOld)
	}
}

// TestMyDataListsTheReminder: after booking in Italian, I MIEI DATI lists
// the reminder that will be sent (day, time and why), as the export does;
// after STOP cancelled it, MY DATA no longer lists it.
func TestMyDataListsTheReminder(t *testing.T) {
	r := newRemindEnv(t)
	const user = "393330003331"
	r.book(t, user, "06/05/2026")
	r.say(t, user, "I MIEI DATI", "Promemoria che ti invieremo:")
	last := r.graph.deliveredTo(user)
	got := last[len(last)-1].text()
	if !strings.Contains(got, "• 2026-05-05 09:00 UTC (per prenotare la tua visita)") {
		t.Errorf("I MIEI DATI answered %q, want the reminder of 5 May 09:00 for the booking", got)
	}
	r.say(t, user, "STOP", "revocato")
	r.say(t, user, "I MIEI DATI", "Ecco cosa")
	last = r.graph.deliveredTo(user)
	if got := last[len(last)-1].text(); strings.Contains(got, "Promemoria") {
		t.Errorf("after STOP, I MIEI DATI still lists a reminder: %q", got)
	}
}
