package lint

import (
	"testing"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/compile"
)

// TestWhatsAppLimitsMatchTheRenderer keeps the catalogue's limits equal to
// the ones adapters/whatsapp renders with (the engine may not import it).
func TestWhatsAppLimitsMatchTheRenderer(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"text", maxTextRunes, whatsapp.MaxTextRunes},
		{"interactive body", maxInteractiveBody, whatsapp.MaxInteractiveBody},
		{"buttons", maxButtons, whatsapp.MaxButtons},
		{"button title", maxButtonTitleRunes, whatsapp.MaxButtonTitleRunes},
		{"list rows", maxListRows, whatsapp.MaxListRows},
		{"row title", maxRowTitleRunes, whatsapp.MaxRowTitleRunes},
		{"row description", maxRowDescRunes, whatsapp.MaxRowDescRunes},
	} {
		if c.got != c.want {
			t.Errorf("%s limit = %d, want %d as in adapters/whatsapp", c.name, c.got, c.want)
		}
	}
}

// TestHumanWordsAreEngineKeywords: every word the no-human-route rule
// accepts is one the engine answers with a hand-off.
func TestHumanWordsAreEngineKeywords(t *testing.T) {
	src := []byte(`parley: 1
id: k
version: 1
languages: [en, it, de, fr, es]
start: a
steps:
  a:
    say: { en: hi, it: ciao, de: hallo, fr: salut, es: hola }
    end: true
`)
	r := check.Source("k.yaml", src)
	if r.Program == nil {
		t.Fatalf("keyword flow does not compile: %v", r.Diags)
	}
	for _, w := range humanWords {
		found := false
		for li := range 5 {
			found = found || r.Program.Keyword(compile.Normalize(w), li) == compile.RightHuman
		}
		if !found {
			t.Errorf("%q is not a human keyword of the engine in any language", w)
		}
	}
}
