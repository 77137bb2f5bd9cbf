package runtime_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

const remindFlow = `parley: 1
id: clinic
version: 1
languages: [en]
controller: { name: Acme, contact: dpo@acme.example, privacy_url: https://acme.example/privacy }
purposes:
  booking: { basis: contract, description: to book your visit }
  news: { basis: consent, description: to send you our news }
fields:
  day: { type: date, purpose: booking, retention: 30d }
  news_day: { type: date, purpose: news, retention: 30d }
templates:
  appointment_reminder: { language: en, category: utility, purpose: booking, params: [day] }
  news_issue: { language: en, category: marketing, purpose: news }
start: ask_day
steps:
  ask_day:
    ask: Which day?
    save: day
  remind_me:
    remind: appointment_reminder
    at: day - 1d + 9h
  ask_news:
    ask: Which day for the news?
    save: news_day
  news:
    remind: news_issue
    at: news_day + 10h
  done:
    say: Done
    end: true
`

// TestRemindSchedulesAtTheTimeReadFromTheField: a remind step schedules its
// template at the date's midnight plus its offset, under the template's
// purpose, until the field expires; a date already past schedules nothing,
// and a template on consent is scheduled only with that consent.
func TestRemindSchedulesAtTheTimeReadFromTheField(t *testing.T) {
	p := compileSrc(t, "clinic.yaml", remindFlow)
	c := newConvo(t, p)
	c.say("hi")
	tr := c.say("2025-03-10")
	rs := effects(tr, runtime.EffectRemind)
	if len(rs) != 1 {
		t.Fatalf("got %d reminders, want 1 (effects %+v)", len(rs), tr.Effects)
	}
	r := rs[0]
	if want := time.Date(2025, 3, 9, 9, 0, 0, 0, time.UTC); !r.At.Equal(want) || r.Template != "appointment_reminder" || r.Purpose != "booking" {
		t.Errorf("reminder %+v, want appointment_reminder for booking at %v", r, want)
	}
	if want := t0.Add(30 * 24 * time.Hour); !r.Until.Equal(want) {
		t.Errorf("reminder until %v, want the field's expiry %v", r.Until, want)
	}
	// news needs consent: declined, nothing is scheduled.
	c.say("no")
	for _, tr := range c.turns {
		for _, e := range effects(tr, runtime.EffectRemind) {
			if e.Template == "news_issue" {
				t.Errorf("news_issue scheduled without consent: %+v", e)
			}
		}
	}

	past := newConvo(t, p)
	past.say("hi")
	if rs := effects(past.say("2025-03-01"), runtime.EffectRemind); len(rs) != 0 {
		t.Errorf("a reminder for a time already past was scheduled: %+v", rs)
	}
}

// TestRemindOnConsentNeedsTheConsent: with the consent given, the
// marketing template is scheduled too.
func TestRemindOnConsentNeedsTheConsent(t *testing.T) {
	p := compileSrc(t, "clinic.yaml", remindFlow)
	c := newConvo(t, p)
	c.say("hi")
	c.say("2025-03-10")
	c.say("yes")
	tr := c.say("2025-04-01")
	rs := effects(tr, runtime.EffectRemind)
	if len(rs) != 1 || rs[0].Template != "news_issue" || !rs[0].At.Equal(time.Date(2025, 4, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("after consent, reminders %+v; want news_issue at 2025-04-01 10:00", rs)
	}
}
