package compile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
	"github.com/parleyhq/parley/engine/load"
)

func TestShippedFlowsCompile(t *testing.T) {
	paths, _ := filepath.Glob("../../flows/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no flows found")
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.yaml") {
			continue // a flow test (parley test), not a flow
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f := parseFlow(t, path, string(src))
			p, ds := compile.Flow(f)
			for _, d := range ds {
				t.Errorf("unexpected diagnostic: %s", d.Error())
			}
			if p.ID() == "" || p.NumSteps() != len(f.Steps) {
				t.Errorf("program id %q with %d steps, want a flow id and %d steps", p.ID(), p.NumSteps(), len(f.Steps))
			}
		})
	}
}

const head = `parley: 1
id: t
version: 2
languages: [en]
controller: { name: Acme, contact: a@acme.example, privacy_url: https://acme.example/p }
purposes:
  booking: { basis: contract, description: to book }
fields:
  name: { type: text, purpose: booking, retention: 30d }
  age: { type: number, purpose: booking, retention: 30d }
  ok: { type: boolean, purpose: booking, retention: transient }
  date: { type: choice, purpose: booking, retention: session }
steps:
`

func TestExpressionErrorsAtExactPositions(t *testing.T) {
	tests := []struct {
		name      string
		steps     string
		rule      diag.RuleID
		line, col int
		msg       string
		suggest   string
	}{
		{"plain condition with a typo", "  s:\n    if: nmae == \"x\"\n", diag.ExprError, 15, 9, `unknown field "nmae"`, `did you mean "name"?`},
		{"quoted condition", "  s:\n    if: \"age > 1 && nmae != ''\"\n", diag.ExprError, 15, 21, `unknown field "nmae"`, `did you mean "name"?`},
		{"block condition", "  s:\n    if: |\n      age > 1 &&\n        nmae == \"x\"\n", diag.ExprError, 17, 9, `unknown field "nmae"`, `did you mean "name"?`},
		{"template in plain say", "  s:\n    say: Hello {{ nmae }}!\n", diag.ExprError, 15, 19, `unknown field "nmae"`, `did you mean "name"?`},
		{"template in quoted say", "  s:\n    say: \"Hi {{ name }}, {{ upper(nmae) }}\"\n", diag.ExprError, 15, 35, `unknown field "nmae"`, `did you mean "name"?`},
		{"template in block ask", "  s:\n    ask: |\n      Hello {{ name }}\n      you are {{ age + nmae }}\n    save: name\n", diag.ExprError, 17, 24, `unknown field "nmae"`, `did you mean "name"?`},
		{"template in translated retry", "  s:\n    ask: { en: Hi }\n    save: name\n    retry:\n      en: \"again {{ titel(date) }}\"\n", diag.ExprError, 18, 21, `unknown field "titel"`, `did you mean "title"?`},
		{"number compared with text", "  s:\n    if: age == \"18\"\n", diag.TypeMismatch, 15, 13, "cannot compare a number with text", ""},
		{"condition that is not true or false", "  s:\n    if: name\n", diag.TypeMismatch, 15, 9, "a condition must be true or false, but this gives text", ""},
		{"unterminated template", "  s:\n    say: \"Hi {{ name, see you\"\n", diag.ExprError, 15, 14, `"{{" is not closed: add "}}" after the expression`, ""},
		{"title of a non-choice field", "  s:\n    say: \"{{ title(name) }}\"\n", diag.ExprError, 15, 14, `title() needs a choice field, but "name" is a text field`, ""},
		{"age without its date", "  s:\n    if: age() >= 18\n", diag.ExprError, 15, 9, "age() takes one date field, like age(born) >= 18", ""},
		{"today with an argument", "  s:\n    if: \"today(name) != ''\"\n", diag.ExprError, 15, 10, "today() takes nothing, like born <= today()", ""},
		{"default of something not a field", "  s:\n    say: \"{{ upper(name) | default('x') }}\"\n", diag.ExprError, 15, 28, `default() takes a field and what to show when it is not held, like {{ name | default("there") }}`, ""},
		{"unknown name without suggestion", "  s:\n    if: zzzzzzz\n", diag.ExprError, 15, 9, `unknown field "zzzzzzz"`, ""},
		{"syntax error", "  s:\n    if: age >\n", diag.ExprError, 15, 13, "unexpected token EOF", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := head + tc.steps
			f := parseFlow(t, "f.yaml", src)
			_, ds := compile.Flow(f)
			if len(ds) != 1 {
				t.Fatalf("got %d diagnostics %v, want 1", len(ds), ds)
			}
			d := ds[0]
			if d.Rule != tc.rule || d.Subject.Start.Line != tc.line || d.Subject.Start.Column != tc.col || d.Summary != tc.msg || d.Suggestion != tc.suggest {
				t.Errorf("got %s %d:%d %q suggest %q, want %s %d:%d %q suggest %q",
					d.Rule, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Suggestion,
					tc.rule, tc.line, tc.col, tc.msg, tc.suggest)
			}
			if d.Subject.Filename != "f.yaml" {
				t.Errorf("filename %q, want f.yaml", d.Subject.Filename)
			}
			line := strings.Split(src, "\n")[tc.line-1]
			t.Logf("%s\n%s^", line, strings.Repeat(" ", tc.col-1))
		})
	}
}

func TestProgramTables(t *testing.T) {
	src := head + `  a:
    say: "Hi {{ name }}"
  b:
    ask: Pick
    save: date
    options:
      - { id: mon, title: "Lunedì 9:00" }
      - { id: tue, title: Tue }
    next: d
  c:
    say: never
  d:
    if: ok
    then: a
  e:
    say: bye
    end: true
`
	p, ds := compile.Flow(parseFlow(t, "f.yaml", src))
	if len(ds) != 0 {
		t.Fatalf("diagnostics: %v", ds)
	}
	if p.Version() != 2 || p.Languages()[0] != "en" || p.Start() != 0 {
		t.Errorf("version %d langs %v start %d", p.Version(), p.Languages(), p.Start())
	}
	b := p.StepAt(1)
	if b.Kind != compile.StepAsk || b.Next != 3 || b.Attempts != 3 || b.Options[0].Norm[0] != "lunedi 9:00" {
		t.Errorf("ask step: kind %d next %d attempts %d norm %q", b.Kind, b.Next, b.Attempts, b.Options[0].Norm[0])
	}
	d := p.StepAt(3)
	if d.Kind != compile.StepBranch || d.Then != 0 || d.Else != compile.None || d.Next != 4 || d.Cond == nil {
		t.Errorf("branch step: %+v", d)
	}
	if e := p.StepAt(4); !e.End || e.Next != compile.None {
		t.Errorf("end step: %+v", e)
	}
	if a := p.StepAt(0); a.Text.For(0).Static || a.Text.For(0).Parts[1].Kind != compile.PartField {
		t.Errorf("say template not split into a literal and a field part: %+v", a.Text.For(0))
	}
	if c := p.StepAt(2); !c.Text.For(0).Static || c.Text.For(0).Src != "never" {
		t.Errorf("static say: %+v", c.Text.For(0))
	}
	fd, ok := p.Field("date")
	if !ok || fd.Type != flow.TypeChoice || fd.Retention.Kind != flow.RetainSession || fd.Basis != flow.BasisContract || len(fd.Options) != 2 {
		t.Errorf("field date: %+v", fd)
	}
	if got := p.OptionTitle(fd.Index, "mon", 0); got != "Lunedì 9:00" {
		t.Errorf("OptionTitle = %q, want %q", got, "Lunedì 9:00")
	}
	pu := p.Purposes()[0]
	if pu.NeedsConsent || pu.Notices[0] == nil || !strings.Contains(pu.Notices[0].Text, "https://acme.example/p") || len(pu.Notices[0].Hash) != 64 {
		t.Errorf("purpose: %+v notice %+v", pu, pu.Notices[0])
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"yes": "yes", "  YES! ": "yes", "Sì": "si", "Lunedì   9:00": "lunedi 9:00",
		"CANCELLA I MIEI DATI": "cancella i miei dati", "Meine Daten LÖSCHEN.": "meine daten loschen", "": "",
	} {
		if got := compile.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { compile.Normalize("yes") }); n != 0 {
		t.Errorf("Normalize of a normal string allocates %v times, want 0", n)
	}
}

// parseFlow loads src with the real loader. Test flows are kept short, so a
// missing required key (start:, controller:) is tolerated; any other load
// error means the test itself is broken.
func parseFlow(t testing.TB, name, src string) *flow.Flow {
	t.Helper()
	f, ds := load.File(name, []byte(src))
	if f == nil {
		t.Fatalf("load %s: %v", name, ds.Err())
	}
	for _, d := range ds {
		if d.Severity == diag.Error && d.Rule != diag.MissingKey {
			t.Fatalf("load %s: %v", name, d)
		}
	}
	return f
}

// TestIntegrationsCompileIntoTheirOwnProgram: two flows declare crm with
// different addresses; each program resolves the name to its own, with
// everything a call needs, and the timeout within its bounds.
func TestIntegrationsCompileIntoTheirOwnProgram(t *testing.T) {
	flowWith := func(id, integration string) *compile.Program {
		src := strings.Replace(head, "id: t\n", "id: "+id+"\n", 1)
		src = strings.Replace(src, "steps:\n", "integrations:\n"+integration+"steps:\n  push:\n    call: crm\n    end: true\n", 1)
		p, ds := compile.Flow(parseFlow(t, id+".yaml", src))
		if ds.HasErrors() {
			t.Fatalf("%s: %v", id, ds)
		}
		return p
	}
	a := flowWith("clinic", "  crm: { url: https://a.example/care, purpose: booking, sends: [name], secret_env: A_TOKEN, timeout: 500ms, on_erase: https://a.example/erase }\n")
	b := flowWith("shop", "  crm: { url: https://b.example/leads, purpose: booking, sends: [age, name], timeout: 2m, on_stop: https://b.example/stop }\n")
	ia, ok := a.Integration("crm")
	if !ok || ia.Flow != "clinic" || ia.URL != "https://a.example/care" || ia.SecretEnv != "A_TOKEN" || ia.Timeout != 500*time.Millisecond ||
		ia.OnErase != "https://a.example/erase" || ia.OnStop != "" || strings.Join(ia.SendNames, ",") != "name" {
		t.Errorf("clinic's crm = %+v", ia)
	}
	ib, ok := b.Integration("crm")
	if !ok || ib.Flow != "shop" || ib.URL != "https://b.example/leads" || ib.SecretEnv != "" || ib.Timeout != compile.DefaultCallTimeout ||
		ib.OnStop != "https://b.example/stop" || strings.Join(ib.SendNames, ",") != "age,name" {
		t.Errorf("shop's crm = %+v (a 2m timeout is over the bound and falls back to the default)", ib)
	}
	if _, ok := a.Integration("mailer"); ok {
		t.Error("an undeclared integration resolved")
	}
	// The copy handed out cannot change the program.
	ia.URL = "https://evil.example"
	if again, _ := a.Integration("crm"); again.URL != "https://a.example/care" {
		t.Error("changing a returned integration changed the program")
	}
}
