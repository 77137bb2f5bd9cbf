package lint_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/lint"
)

// wordingFlow is a clean flow asking for field name with question q (in
// Italian too when it is set).
func wordingFlow(name, en, it string) []byte {
	return []byte(fmt.Sprintf(`parley: 1
id: w
version: 1
languages: [en, it]
controller: { name: Test Ltd, contact: privacy@test.example, privacy_url: https://test.example/privacy }
purposes:
  support:
    basis: contract
    description: { en: to answer your question, it: per rispondere alla tua domanda }
fields:
  %s: { type: text, purpose: support, retention: 30d, max_length: 100, label: { en: "your answer", it: "la tua risposta" } }
start: ask
steps:
  ask:
    ask:
      en: "%s Write HUMAN to talk to a person."
      it: "%s Scrivi OPERATORE per parlare con una persona."
    save: %s
  route:
    if: %s == "x"
    then: done
    else: done
  done:
    say: { en: Thanks., it: Grazie. }
    end: true
`, name, en, it, name, name))
}

func findings(t *testing.T, src []byte) diag.Diagnostics {
	t.Helper()
	r := check.Source("w.yaml", src)
	if r.Program == nil {
		t.Fatalf("test flow does not compile: %v", r.Diags)
	}
	return lint.Flow(r, nil)
}

// TestWordingThatIsNotPersonalIsNotFlagged: everyday words close to the
// word lists (a race to run, a returns policy, a pan size) lint clean.
func TestWordingThatIsNotPersonalIsNotFlagged(t *testing.T) {
	for _, c := range []struct{ name, en, it string }{
		{"race", "Which race do you want to run, 5k or 10k?", "Quale gara vuoi correre?"},
		{"policy", "Have you read our returns policy?", "Hai letto la nostra politica dei resi?"},
		{"pan_size", "Which pan size do you need?", "Che misura di teglia ti serve?"},
		{"party", "Which party are you coming to, Friday or Saturday?", "A quale festa vieni?"},
		{"profile", "Shall we update your profile name?", "Aggiorniamo il nome del tuo profilo?"},
		{"order_ref", "What is your order reference?", "Qual è il riferimento dell'ordine?"},
		{"card_last4", "What are the last four digits of your card number?", "Quali sono le ultime quattro cifre del numero della carta?"},
	} {
		if ds := findings(t, wordingFlow(c.name, c.en, c.it)); len(ds) > 0 {
			t.Errorf("%s: %q / %q gives %v, want no finding", c.name, c.en, c.it, ds)
		}
	}
}

// TestProhibitedWordingInEitherLanguage: each kind of prohibited data is
// found from the English question and from the Italian one alone, with a
// neutral field name.
func TestProhibitedWordingInEitherLanguage(t *testing.T) {
	for _, c := range []struct{ en, it, instead string }{
		{"What is your credit card number?", "Qual è il numero della carta?", "last four digits"},
		{"What is the CVV on the back?", "Qual è il codice di sicurezza sul retro?", "payment provider"},
		{"Please type your PIN.", "Scrivi il codice PIN.", "PIN"},
		{"What is your password?", "Qual è la tua password?", "reset"},
		{"Type the verification code we sent you.", "Scrivi il codice di verifica che ti abbiamo mandato.", "reference number"},
		{"What is your social security number?", "Qual è il tuo codice fiscale?", "reference number"},
	} {
		for lang, pair := range map[string][2]string{"en": {c.en, "Dimmi."}, "it": {"Tell us.", c.it}} {
			ds := findings(t, wordingFlow("answer", pair[0], pair[1]))
			if len(ds) != 1 || ds[0].Rule != diag.ProhibitedData || !strings.Contains(ds[0].Summary, "("+lang+")") || !strings.Contains(ds[0].Summary, c.instead) {
				t.Errorf("%s question %q: got %v, want one PARLEY-401 naming %s and %q", lang, pair, ds, lang, c.instead)
			}
		}
	}
}
