package compile_test

import (
	"slices"
	"testing"

	"github.com/parleyhq/parley/engine/compile"
)

// TestTemplatesCompileWithTheirParameters: a template under templates:
// compiles to its approved name (the key when name: is left out), its
// category and purpose, and the field indexes of its parameters in the
// order of {{1}}, {{2}}; outside_window compiles to the same type, with no
// purpose or parameters.
func TestTemplatesCompileWithTheirParameters(t *testing.T) {
	src := `parley: 1
id: t
version: 1
languages: [en]
controller: { name: Acme, contact: a@acme.example, privacy_url: https://acme.example/p }
purposes:
  booking: { basis: contract, description: to book }
fields:
  name: { type: text, purpose: booking, retention: 30d }
  day: { type: date, purpose: booking, retention: 30d }
whatsapp:
  outside_window: { template: come_back, language: en }
templates:
  appointment_reminder:
    name: reminder_v3
    language: en_US
    category: utility
    purpose: booking
    params: [day, name]
  thanks:
    language: en
    category: utility
    purpose: booking
steps:
  ask_name: { ask: "Name?", save: name }
  ask_day: { ask: "Day?", save: day, end: true }
`
	p, ds := compile.Flow(parseFlow(t, "t.yaml", src))
	if ds.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", ds)
	}
	r, ok := p.Template("appointment_reminder")
	if !ok {
		t.Fatal("template appointment_reminder not compiled")
	}
	if r.Name != "reminder_v3" || r.Language != "en_US" || r.Category != "utility" || r.Purpose != "booking" || r.PurposeIndex != 0 {
		t.Errorf("compiled %+v, want reminder_v3, en_US, utility, purpose booking (index 0)", r)
	}
	day, _ := p.Field("day")
	name, _ := p.Field("name")
	if want := []int{day.Index, name.Index}; !slices.Equal(r.Params, want) || !slices.Equal(r.ParamNames, []string{"day", "name"}) {
		t.Errorf("params %v %v, want %v [day name]", r.Params, r.ParamNames, want)
	}
	if th, _ := p.Template("thanks"); th.Name != "thanks" || len(th.Params) != 0 {
		t.Errorf("thanks compiled as %+v, want the key as its name and no params", th)
	}
	if _, ok := p.Template("nope"); ok {
		t.Error("an undeclared template was found")
	}
	if len(p.Templates()) != 2 {
		t.Errorf("%d templates, want 2", len(p.Templates()))
	}
	ow, ok := p.OutsideWindowTemplate()
	if !ok || ow.Name != "come_back" || ow.Language != "en" || ow.Purpose != "" || ow.PurposeIndex != compile.None || len(ow.Params) != 0 {
		t.Errorf("outside_window compiled as %+v, %v", ow, ok)
	}
}
