package compile_test

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
)

// TestOptionsFromResolvesItsIntegration: options_from: compiles to the
// integration's index and its receives_options: key; a name that is no
// integration is an error at the name, with a suggestion.
func TestOptionsFromResolvesItsIntegration(t *testing.T) {
	src := strings.Replace(head, "steps:\n", `integrations:
  agenda: { url: https://a.example/slots, purpose: booking, sends: [], receives_options: slots }
steps:
  find:
    call: agenda
  pick:
    ask: Which?
    options_from: NAME
    save: name
    end: true
`, 1)
	p, ds := compile.Flow(parseFlow(t, "ok.yaml", strings.Replace(src, "NAME", "agenda", 1)))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	idx, _ := p.StepIndex("pick")
	in, _ := p.Integration("agenda")
	if s := p.StepAt(idx); s.OptionsFrom != in.Index || in.OptionsKey != "slots" {
		t.Errorf("pick offers from %d, agenda is %d with key %q", s.OptionsFrom, in.Index, in.OptionsKey)
	}
	_, ds = compile.Flow(parseFlow(t, "bad.yaml", strings.Replace(src, "NAME", "agneda", 1)))
	for _, d := range ds {
		if d.Rule == diag.UnknownIntegration && d.Subject.Start.Line == 20 && strings.Contains(d.Suggestion, "agenda") {
			return
		}
	}
	t.Errorf("no unknown-integration error at options_from: agneda suggesting agenda: %v", ds)
}
