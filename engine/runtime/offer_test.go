package runtime_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

// offerFlow offers the free slots the agenda answers and saves the id the
// customer picks.
const offerFlow = `parley: 1
id: offer
languages: [en, it]
purposes:
  booking:
    basis: contract
    description: { en: to book your visit, it: per prenotare la visita }
fields:
  slot: { type: text, purpose: booking, retention: 30d }
integrations:
  agenda: { url: https://agenda.example, purpose: booking, sends: [], receives_options: slots }
start: find
steps:
  find:
    call: agenda
    on_fail: failed
  pick:
    ask: { en: "Which slot?", it: "Quale orario?" }
    options_from: agenda
    save: slot
  done:
    say: { en: "Booked {{ slot }}", it: "Prenotato {{ slot }}" }
    end: true
  failed:
    say: { en: "No slot", it: "Nessun posto" }
    end: true
`

const twoSlots = `[{"id": "mon9", "title": "Mon 9:00"}, {"id": "tue14", "title": "  Tue 14:00, with Dr Rossi at the big clinic  "}]`

func offerConvo(t *testing.T, lang, slots string) (*convo, runtime.Turn) {
	t.Helper()
	c := newConvo(t, compileSrc(t, "offer.yaml", offerFlow))
	c.lang = lang
	c.caller = &fakeCaller{reply: runtime.Reply{"slots": slots}}
	return c, c.say("hi")
}

// TestOptionsFromOffersTheIntegrationsList: the question offers the ids
// and titles the integration answered (titles trimmed and cut to
// WhatsApp's 24 characters), a pick by number, title or button saves the
// id, and the list is dropped from the state once answered.
func TestOptionsFromOffersTheIntegrationsList(t *testing.T) {
	for _, tc := range []struct{ lang, ask, done, answer string }{
		{"en", "Which slot?", "Booked tue14", "2"},
		{"it", "Quale orario?", "Prenotato mon9", "mon 9:00"},
		{"en", "Which slot?", "Booked tue14", "tap:tue14"},
	} {
		t.Run(tc.lang+"/"+tc.answer, func(t *testing.T) {
			c, tr := offerConvo(t, tc.lang, twoSlots)
			// The purpose's notice comes first, then the question.
			if len(tr.Out) != 2 || tr.Out[1].Text != tc.ask {
				t.Fatalf("replies %q, want the notice and %q", texts(tr), tc.ask)
			}
			want := []runtime.Option{{ID: "mon9", Title: "Mon 9:00"}, {ID: "tue14", Title: "Tue 14:00, with Dr Ross…"}}
			if got := tr.Out[1].Options; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("options %+v, want %+v", got, want)
			}
			if fmt.Sprint(c.st.Offered) != fmt.Sprint(want) {
				t.Errorf("state holds %+v while the question waits, want the list", c.st.Offered)
			}
			if id, ok := strings.CutPrefix(tc.answer, "tap:"); ok {
				tr = c.tap(id)
			} else {
				tr = c.say(tc.answer)
			}
			if len(tr.Out) != 1 || tr.Out[0].Text != tc.done {
				t.Fatalf("replies %q, want %q", texts(tr), tc.done)
			}
			if c.st.Offered != nil {
				t.Errorf("the list outlived its question: %+v", c.st.Offered)
			}
		})
	}
}

// TestOptionsFromRejectsAPickNotOffered: an answer that is none of the
// options asks again with the same list, and saves nothing.
func TestOptionsFromRejectsAPickNotOffered(t *testing.T) {
	for _, lang := range []string{"en", "it"} {
		t.Run(lang, func(t *testing.T) {
			c, _ := offerConvo(t, lang, twoSlots)
			for _, bad := range []string{"3", "wed10"} {
				tr := c.say(bad)
				if len(tr.Out) != 1 || len(tr.Out[0].Options) != 2 {
					t.Fatalf("%q: replies %q with %d options, want the question again with both", bad, texts(tr), len(tr.Out[0].Options))
				}
				if s := effects(tr, runtime.EffectStore); len(s) != 0 {
					t.Errorf("%q: stored %+v", bad, s)
				}
			}
			tap := c.tap("tue14")
			if len(tap.Out) != 1 || !strings.HasSuffix(tap.Out[0].Text, "tue14") {
				t.Errorf("after the retries, a tap replies %q", texts(tap))
			}
		})
	}
}

// TestOptionsFromListsThatDoNotFitFailTheCall: an empty list, a missing
// key, a list that is not JSON, an item without id or title, an empty,
// repeated or multi-line id fail the call (on_fail) and hold nothing; more
// than 10 keeps the first 10.
func TestOptionsFromListsThatDoNotFitFailTheCall(t *testing.T) {
	for name, slots := range map[string]string{
		"empty":       `[]`,
		"not a list":  `{"id": "a", "title": "A"}`,
		"not JSON":    `mon9`,
		"no title":    `[{"id": "a"}]`,
		"empty id":    `[{"id": "", "title": "A"}]`,
		"blank title": `[{"id": "a", "title": "  "}]`,
		"repeated id": `[{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]`,
		"control":     `[{"id": "a\nb", "title": "A"}]`,
		"long id":     `[{"id": "` + strings.Repeat("x", 201) + `", "title": "A"}]`,
	} {
		for _, lang := range []string{"en", "it"} {
			t.Run(name+"/"+lang, func(t *testing.T) {
				c, tr := offerConvo(t, lang, slots)
				want := map[string]string{"en": "No slot", "it": "Nessun posto"}[lang]
				if len(tr.Out) != 1 || tr.Out[0].Text != want {
					t.Errorf("replies %q, want on_fail's %q", texts(tr), want)
				}
				if c.st.Offered != nil {
					t.Errorf("held %+v from a list that does not fit", c.st.Offered)
				}
			})
		}
	}
	var items []string
	for i := range 12 {
		items = append(items, fmt.Sprintf(`{"id": "s%d", "title": "Slot %d"}`, i, i))
	}
	_, tr := offerConvo(t, "en", "["+strings.Join(items, ",")+"]")
	if len(tr.Out) != 2 || len(tr.Out[1].Options) != runtime.MaxOffered || tr.Out[1].Options[9].ID != "s9" {
		t.Errorf("12 slots offered as %+v, want the first 10", tr.Out)
	}
}

// TestOptionsFromDropsTheListWhenTheCustomerGivesUp: after the last
// attempt the conversation moves on and the list is no longer held.
func TestOptionsFromDropsTheListWhenTheCustomerGivesUp(t *testing.T) {
	for _, lang := range []string{"en", "it"} {
		t.Run(lang, func(t *testing.T) {
			c, _ := offerConvo(t, lang, twoSlots)
			c.say("9")
			c.say("9")
			if c.st.Offered == nil {
				t.Fatal("control: the list is gone before the last attempt")
			}
			c.say("9")
			if c.st.Offered != nil || c.st.Status != runtime.StatusEnded {
				t.Errorf("after giving up: status %v, list %+v; want ended with no list", c.st.Status, c.st.Offered)
			}
		})
	}
}

// TestOptionsFromWithNothingOfferedSkipsTheQuestion: when the call failed
// with no on_fail of its own, the question has nothing to offer and goes
// to its on_fail instead of waiting for a pick nobody can make.
func TestOptionsFromWithNothingOfferedSkipsTheQuestion(t *testing.T) {
	src := strings.Replace(offerFlow, "    on_fail: failed\n  pick:\n", "  pick:\n    on_fail: failed\n", 1)
	if src == offerFlow {
		t.Fatal("the flow was not changed: the call still has its on_fail")
	}
	for _, lang := range []string{"en", "it"} {
		t.Run(lang, func(t *testing.T) {
			c := newConvo(t, compileSrc(t, "offer.yaml", src))
			c.lang = lang
			c.caller = &fakeCaller{fail: true}
			tr := c.say("hi")
			want := map[string]string{"en": "No slot", "it": "Nessun posto"}[lang]
			if n := len(tr.Out); n == 0 || tr.Out[n-1].Text != want || c.st.Status != runtime.StatusEnded {
				t.Errorf("replies %q (status %v), want the question's on_fail %q", texts(tr), c.st.Status, want)
			}
		})
	}
}
