package runtime_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

// receivesFlow books a slot the clinic's system picks: its answer fills
// slot (a date), fee (a number within bounds), ref (a short text) and
// paid (true/false), all for the integration's purpose, each kept as its
// field says.
const receivesFlow = `parley: 1
id: receives
languages: [en, it]
purposes:
  booking:
    basis: contract
    description: { en: to book your visit, it: per prenotare la visita }
fields:
  name: { type: text, purpose: booking, retention: 7d }
  slot: { type: date, purpose: booking, retention: 30d }
  fee: { type: number, purpose: booking, retention: session, min: 0, max: 5000 }
  ref: { type: text, purpose: booking, retention: 7d, max_length: 8 }
  paid: { type: boolean, purpose: booking, retention: transient }
integrations:
  agenda: { url: https://agenda.example, purpose: booking, sends: [name], receives: [slot, fee, ref, paid] }
start: ask_name
steps:
  ask_name:
    ask: { en: "Name?", it: "Nome?" }
    save: name
  book:
    call: agenda
    on_fail: failed
  done:
    say: { en: "Booked {{ slot }}, {{ fee }} EUR, ref {{ ref }}", it: "Prenotato {{ slot }}, {{ fee }} EUR, rif. {{ ref }}" }
    end: true
  failed:
    say: { en: "No slot", it: "Nessun posto" }
    end: true
`

func receiveTurn(t *testing.T, lang string, reply runtime.Reply) runtime.Turn {
	t.Helper()
	c := newConvo(t, compileSrc(t, "receives.yaml", receivesFlow))
	c.lang = lang
	c.caller = &fakeCaller{reply: reply}
	c.say("hi")
	return c.say("Ada")
}

// TestCallReceivesFillsDeclaredFields: the answer's declared keys are kept
// as answers, in JSON's own forms whatever the language (1234.5 is not
// read with Italian marks), with each field's retention; an undeclared key
// is never kept.
func TestCallReceivesFillsDeclaredFields(t *testing.T) {
	for _, tc := range []struct{ lang, want string }{
		{"en", "Booked 2025-03-04, 1234.5 EUR, ref AB12"},
		{"it", "Prenotato 2025-03-04, 1234.5 EUR, rif. AB12"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			tr := receiveTurn(t, tc.lang, runtime.Reply{"slot": "2025-03-04", "fee": "1234.5", "ref": "AB12", "paid": "true", "card": "4111111111111111"})
			if len(tr.Out) != 1 || tr.Out[0].Text != tc.want {
				t.Fatalf("replies %q, want %q", texts(tr), tc.want)
			}
			stored := map[string]runtime.Effect{}
			for _, e := range effects(tr, runtime.EffectStore) {
				stored[e.Field] = e
			}
			if e := stored["slot"]; e.Value.V != "2025-03-04" || e.Purpose != "booking" || !e.Value.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) {
				t.Errorf("slot stored as %+v, want 2025-03-04 for booking, kept 30d", e)
			}
			if e := stored["fee"]; e.Value.V != 1234.5 || !e.Session {
				t.Errorf("fee stored as %+v, want 1234.5 for the session", e)
			}
			if e := stored["ref"]; e.Value.V != "AB12" || !e.Value.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
				t.Errorf("ref stored as %+v, want AB12 kept 7d", e)
			}
			if _, ok := stored["paid"]; ok {
				t.Errorf("transient paid was stored: %+v", stored["paid"])
			}
			if _, ok := stored["card"]; ok {
				t.Errorf("an undeclared key of the answer was stored")
			}
		})
	}
}

// TestCallReceivesRejectsAnswersThatDoNotFit: a missing field, a value of
// the wrong type or out of the field's bounds fails the call (on_fail) and
// keeps none of the answer, in either language.
func TestCallReceivesRejectsAnswersThatDoNotFit(t *testing.T) {
	good := runtime.Reply{"slot": "2025-03-04", "fee": "10", "ref": "AB12", "paid": "false"}
	for name, change := range map[string]func(runtime.Reply){
		"missing field":     func(r runtime.Reply) { delete(r, "ref") },
		"localized number":  func(r runtime.Reply) { r["fee"] = "1.234,5" },
		"above max":         func(r runtime.Reply) { r["fee"] = "5000.01" },
		"beyond precision":  func(r runtime.Reply) { r["fee"] = "9999999999999999" },
		"day-first date":    func(r runtime.Reply) { r["slot"] = "04/03/2025" },
		"text too long":     func(r runtime.Reply) { r["ref"] = "ABCDEFGHI" },
		"empty text":        func(r runtime.Reply) { r["ref"] = " " },
		"yes is not a bool": func(r runtime.Reply) { r["paid"] = "yes" },
	} {
		for _, lang := range []string{"en", "it"} {
			t.Run(name+"/"+lang, func(t *testing.T) {
				r := runtime.Reply{}
				for k, v := range good {
					r[k] = v
				}
				change(r)
				tr := receiveTurn(t, lang, r)
				want := map[string]string{"en": "No slot", "it": "Nessun posto"}[lang]
				if len(tr.Out) != 1 || tr.Out[0].Text != want {
					t.Errorf("replies %q, want on_fail's %q", texts(tr), want)
				}
				for _, e := range effects(tr, runtime.EffectStore) {
					if e.Field != "name" {
						t.Errorf("kept %s from an answer that does not fit", e.Field)
					}
				}
			})
		}
	}
}
