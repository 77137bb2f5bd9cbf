package runtime_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

const bilingual = `parley: 1
id: bi
version: 1
languages: [en, it]
keywords:
  language: { en: "switch", it: "cambia" }
purposes:
  contact:
    basis: consent
    description: { en: "to answer you", it: "per risponderti" }
fields:
  name:
    type: text
    purpose: contact
    retention: 30d
    label: { en: "your name", it: "il tuo nome" }
steps:
  ask_name:
    ask: { en: "What is your name?", it: "Come ti chiami?" }
    save: name
  bye:
    say: { en: "Thanks {{ name }}", it: "Grazie {{ name }}" }
    end: true
`

func bi(t *testing.T) *convo { return newConvo(t, compileSrc(t, "bi.yaml", bilingual)) }

func TestFirstMessageGreetingPicksLanguage(t *testing.T) {
	for _, tc := range []struct{ in, lang, want string }{
		{"Ciao!", "it", "Sì"},
		{"buongiorno, vorrei prenotare", "it", "Sì"},
		{"Hello", "en", "Yes"},
		{"hi there", "en", "Yes"},
	} {
		c := bi(t)
		tr := c.say(tc.in)
		if c.st.Lang != tc.lang {
			t.Errorf("%q: language %q, want %q", tc.in, c.st.Lang, tc.lang)
		}
		// The first reply is the consent question, with Yes/No in that language.
		if len(tr.Out) == 0 || len(tr.Out[0].Options) == 0 || tr.Out[0].Options[0].Title != tc.want {
			t.Errorf("%q: replies %+v, want a consent question with %q", tc.in, tr.Out, tc.want)
		}
	}
}

func TestUnknownFirstMessageAsksLanguageOnce(t *testing.T) {
	c := bi(t)
	tr := c.say("prenotazione")
	wantReplies(t, tr, 1, runtime.KindRights)
	wantContains(t, tr.Out[0].Text, "Which language do you prefer?", "In che lingua preferisci?")
	if got := optionIDs(tr.Out[0]); !slices.Equal(got, []string{"lang_en", "lang_it"}) {
		t.Fatalf("options %q, want a button per language", got)
	}
	if tr.Out[0].Options[1].Title != "Italiano" {
		t.Errorf("button title %q, want the language's own name", tr.Out[0].Options[1].Title)
	}
	tr = c.tap("lang_it")
	if c.st.Lang != "it" || len(tr.Out) == 0 || tr.Out[0].Kind != runtime.KindConsent {
		t.Fatalf("after tapping Italiano: lang %q, replies %q", c.st.Lang, texts(tr))
	}
	wantContains(t, tr.Out[0].Text, "per risponderti")

	// An answer that names no language is not asked again: the flow starts
	// in its first language.
	c = bi(t)
	c.say("prenotazione")
	tr = c.say("boh")
	if c.st.Lang != "en" || len(tr.Out) == 0 || tr.Out[0].Kind != runtime.KindConsent {
		t.Fatalf("unclear answer: lang %q, replies %q", c.st.Lang, texts(tr))
	}

	// A typed language name works as well as the button.
	c = bi(t)
	c.say("prenotazione")
	c.say("italiano")
	if c.st.Lang != "it" {
		t.Errorf("typed italiano: lang %q", c.st.Lang)
	}
}

func TestReturningCustomerKeepsLanguage(t *testing.T) {
	c := bi(t)
	c.say("ciao")
	c.tap("yes")
	c.say("Ada")
	if c.st.Status != runtime.StatusEnded {
		t.Fatalf("status %d, want ended", c.st.Status)
	}
	tr := c.say("prenotazione")
	if c.st.Lang != "it" || len(tr.Out) == 0 || tr.Out[0].Text != "Come ti chiami?" {
		t.Errorf("returning customer: lang %q, replies %q; want Italian, not asked again", c.st.Lang, texts(tr))
	}
}

func TestLanguageKeywordSwitchesAtAnyPoint(t *testing.T) {
	for _, kw := range []string{"LANGUAGE", "lingua", "switch", "Cambia"} {
		c := bi(t)
		c.say("hello")
		c.tap("yes")
		tr := c.say(kw)
		wantReplies(t, tr, 1, runtime.KindRights)
		if got := optionIDs(tr.Out[0]); !slices.Equal(got, []string{"lang_en", "lang_it"}) {
			t.Fatalf("%q: options %q", kw, got)
		}
		tr = c.tap("lang_it")
		if c.st.Lang != "it" || len(tr.Out) != 1 || tr.Out[0].Text != "Come ti chiami?" {
			t.Fatalf("%q then Italiano: lang %q, replies %q; want the pending question in Italian", kw, c.st.Lang, texts(tr))
		}
		c.say("Ada")
		if v := c.st.Values["name"].V; v != "Ada" {
			t.Errorf("%q: the answer after switching was not saved: %v", kw, v)
		}
	}

	// While the consent question waits, switching asks it again, translated.
	c := bi(t)
	c.say("hello")
	c.say("lingua")
	tr := c.tap("lang_it")
	if len(tr.Out) != 1 || tr.Out[0].Kind != runtime.KindConsent {
		t.Fatalf("switch during consent: replies %q", texts(tr))
	}
	wantContains(t, tr.Out[0].Text, "per risponderti")
	c.tap("yes")
	if c.st.Consent["contact"] != runtime.ConsentGranted {
		t.Errorf("consent after switching: %d", c.st.Consent["contact"])
	}
}

func TestLanguageKeywordIsAnAnswerInOneLanguageFlows(t *testing.T) {
	c := newConvo(t, loadFile(t, "../../flows/booking.yaml"))
	c.say("hi")
	c.tap("yes")
	tr := c.say("Language")
	if slices.ContainsFunc(tr.Out, func(m runtime.Message) bool { return m.Kind == runtime.KindRights }) {
		t.Errorf("LANGUAGE in an English-only flow asked for a language: %q", texts(tr))
	}
}

const clinic = `parley: 1
id: clinic
version: 1
languages: [en, it]
controller:
  name: Studio Rossi
  contact: info@rossi.example
  privacy_url: https://rossi.example/privacy
  transfers_outside_eu: Stati Uniti / United States (SCC)
integrations:
  agenda: { url: "https://agenda.example/visits", purpose: care, sends: [symptom], recipient: Agenda Cloud Srl }
purposes:
  care:
    basis: consent
    description: { en: "to prepare your visit", it: "per preparare la tua visita" }
fields:
  symptom:
    type: text
    purpose: care
    special: health
    retention: 30d
    label: { en: "your symptoms", it: "i tuoi sintomi" }
steps:
  ask:
    ask: { en: "What brings you in?", it: "Cosa ti porta da noi?" }
    save: symptom
  bye:
    say: { en: "Thanks", it: "Grazie" }
    end: true
`

// Engine-written texts name purposes, fields and special categories in the
// conversation's language, never by their ids.
func TestEngineTextsUseTranslationsNotIDs(t *testing.T) {
	for _, tc := range []struct {
		hello      string
		want, deny []string
	}{
		{"ciao", []string{"dati relativi a salute", "i tuoi sintomi", "per preparare la tua visita",
			"base giuridica: il tuo consenso", "Li condividiamo con Agenda Cloud Srl.", "Meta Platforms Ireland, che gestisce WhatsApp",
			"Trasferimenti fuori dall'UE: Stati Uniti / United States (SCC)."}, []string{"health", " care", "giuridica: consent"}},
		{"hello", []string{"collect your symptoms to prepare your visit", "includes health information",
			"legal basis: your consent", "We share it with Agenda Cloud Srl.", "Meta Platforms Ireland, which runs WhatsApp",
			"Transfers outside the EU: Stati Uniti / United States (SCC)."}, []string{"your your", " care", "basis: consent;"}},
	} {
		c := newConvo(t, compileSrc(t, "clinic.yaml", clinic))
		tr := c.say(tc.hello)
		c.tap("yes")
		c.say("toothache")
		priv := c.say("PRIVACY")
		c2 := newConvo(t, compileSrc(t, "clinic.yaml", clinic))
		c2.say(tc.hello)
		c2.tap("yes")
		my := c2.say("MY DATA")
		all := tr.Out[0].Text + "\n" + priv.Out[0].Text + "\n" + my.Out[0].Text
		if !strings.Contains(tr.Out[0].Text, "Agenda Cloud Srl") {
			t.Errorf("%s: the consent question does not name the recipient: %q", tc.hello, tr.Out[0].Text)
		}
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: engine texts lack %q:\n%s", tc.hello, w, all)
			}
		}
		for _, d := range tc.deny {
			if strings.Contains(all, d) {
				t.Errorf("%s: engine texts contain %q:\n%s", tc.hello, d, all)
			}
		}
	}
}

// A flow in languages Parley has no question for still asks with a text.
func TestLanguageQuestionInUnknownLanguages(t *testing.T) {
	c := newConvo(t, compileSrc(t, "pt.yaml", strings.NewReplacer("[en, it]", "[pt, nl]", "en:", "pt:", "it:", "nl:").Replace(bilingual)))
	tr := c.say("bom dia")
	wantReplies(t, tr, 1, runtime.KindRights)
	if tr.Out[0].Text != "Which language do you prefer?" || len(tr.Out[0].Options) != 2 || tr.Out[0].Options[0].Title != "pt" {
		t.Errorf("question %+v, want the English text and a button per language", tr.Out[0])
	}
}
