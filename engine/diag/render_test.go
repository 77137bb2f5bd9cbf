package diag

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixtureSrc = "parley: 1\nsteps:\n\tgreet:\n\t\tsay: Ciào {{ nome }}\n  ask_name:\n    promt: \"What's your name?\"\n" +
	"  long: " + "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij" + " target" + strings.Repeat(" x", 40) + "\n"

func fixture() Diagnostics {
	p := func(l, c int) Pos { return Pos{Line: l, Column: c, Byte: -1} }
	ds := Diagnostics{
		{Severity: Error, Rule: UnknownKey, Summary: `unknown key "promt" in step "ask_name"`, Suggestion: `did you mean "prompt"?`,
			Subject: Range{Filename: "flows/a.yaml", Start: p(6, 5), End: p(6, 10)}},
		{Severity: Error, Rule: ExprError, Summary: `unknown name "nome"`, Detail: "declared fields: name",
			Subject: Range{Filename: "flows/a.yaml", Start: p(4, 16), End: p(4, 20)}},
		{Severity: Warning, Rule: Unreachable, Summary: `step "long" is never reached`,
			Subject: Range{Filename: "flows/a.yaml", Start: p(7, 131), End: p(7, 137)}},
		{Severity: Error, Rule: SpecVersion, Summary: "no source for this file",
			Subject: Range{Filename: "flows/missing.yaml", Start: p(3, 1)}},
		{Severity: Error, Rule: YAMLSyntax, Summary: "line past the end",
			Subject: Range{Filename: "flows/a.yaml", Start: p(99, 1)}},
	}
	ds.Sort()
	return ds
}

func fixtureFiles(name string) []byte {
	if name == "flows/a.yaml" {
		return []byte(fixtureSrc)
	}
	return nil
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./engine/diag -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file\n--- got:\n%s\n--- want:\n%s", name, got, want)
	}
}

func TestWriteTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, fixture(), fixtureFiles); err != nil {
		t.Fatal(err)
	}
	golden(t, "render.text.golden", b.Bytes())
}

func TestWriteJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixtureFileList, fixture()); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Version int
		Files   []struct {
			Path             string
			Errors, Warnings int
		}
		Diagnostics []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &decoded); err != nil {
		t.Fatalf("WriteJSON wrote invalid JSON: %v", err)
	}
	if decoded.Version != JSONVersion || len(decoded.Diagnostics) != len(fixture()) {
		t.Errorf("WriteJSON wrote version %d and %d diagnostics, want %d and %d", decoded.Version, len(decoded.Diagnostics), JSONVersion, len(fixture()))
	}
	if len(decoded.Files) != 3 || decoded.Files[0].Path != "flows/a.yaml" || decoded.Files[0].Errors != 3 || decoded.Files[0].Warnings != 1 || decoded.Files[2].Errors != 0 {
		t.Errorf("WriteJSON files = %+v, want a.yaml with 3 errors and 1 warning, clean.yaml with none", decoded.Files)
	}
	golden(t, "render.json.golden", b.Bytes())
}

func TestWriteJSONEmptyListsAreArrays(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(b.String()), ""); got != `{"version":1,"files":[],"diagnostics":[]}` {
		t.Errorf("WriteJSON(nil, nil) = %q, want empty arrays", got)
	}
}

// fixtureFileList names the checked files: one with findings, one whose
// source is missing and one clean file that must still be listed.
var fixtureFileList = []string{"flows/a.yaml", "flows/missing.yaml", "flows/clean.yaml"}

// TestWriteSARIFGolden renders the fixture with a fixed list of rules, so
// that adding a rule to the table does not change the golden file; the
// test below checks that the default is the whole table.
func TestWriteSARIFGolden(t *testing.T) {
	var rules []Rule
	for _, id := range []RuleID{YAMLSyntax, SpecVersion, UnknownKey, ExprError, Unreachable} {
		r, _ := Lookup(id)
		rules = append(rules, r)
	}
	var b bytes.Buffer
	if err := WriteSARIF(&b, SARIFTool{Name: "parley", Version: "test", Rules: rules}, fixtureFileList, fixture()); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string
		Runs    []struct {
			ColumnKind string
			Tool       struct {
				Driver struct{ Rules []struct{ ID string } }
			}
			Artifacts []any
			Results   []struct {
				RuleID    string
				RuleIndex int
				Level     string
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatalf("WriteSARIF wrote invalid JSON: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].ColumnKind != "unicodeCodePoints" {
		t.Fatalf("SARIF log version %q, %d runs; want 2.1.0, one run with unicodeCodePoints columns", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(rules) || len(run.Artifacts) != 3 || len(run.Results) != len(fixture()) {
		t.Errorf("SARIF run has %d rules, %d artifacts, %d results; want %d, 3, %d", len(run.Tool.Driver.Rules), len(run.Artifacts), len(run.Results), len(rules), len(fixture()))
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result for %s points at rule %d (%s)", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
	}
	golden(t, "render.sarif.golden", b.Bytes())
}

func TestWriteSARIFDescribesEveryRuleByDefault(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, SARIFTool{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct{ ID, HelpURI string }
				}
			}
			Results []any
		}
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	d := log.Runs[0].Tool.Driver
	if d.Name != "parley" || len(d.Rules) != len(Rules()) || log.Runs[0].Results == nil {
		t.Fatalf("driver %q with %d rules and results %v; want parley, %d rules, an empty results array", d.Name, len(d.Rules), log.Runs[0].Results, len(Rules()))
	}
	for i, r := range Rules() {
		if d.Rules[i].ID != string(r.ID) || !strings.HasSuffix(d.Rules[i].HelpURI, "#"+strings.ToLower(string(r.ID))) {
			t.Errorf("rule %d = %+v, want %s with its help link", i, d.Rules[i], r.ID)
		}
	}
}

func TestWriteGitHubGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteGitHub(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	golden(t, "render.github.golden", b.Bytes())
}

func TestWriteGitHubEscapes(t *testing.T) {
	ds := Diagnostics{{Severity: Warning, Rule: Unreachable, Summary: "100% done\nnext: a, b",
		Subject: Range{Filename: "flows/a,b:c.yaml", Start: Pos{Line: 2, Column: 3}}}}
	var b bytes.Buffer
	if err := WriteGitHub(&b, ds); err != nil {
		t.Fatal(err)
	}
	want := "::warning file=flows/a%2Cb%3Ac.yaml,line=2,col=3,title=PARLEY-208::100%25 done%0Anext: a, b\n"
	if b.String() != want {
		t.Errorf("WriteGitHub =\n%q\nwant\n%q", b.String(), want)
	}
}

func TestWriteColorTextOnlyAddsEscapes(t *testing.T) {
	var plain, color bytes.Buffer
	if err := WriteText(&plain, fixture(), fixtureFiles); err != nil {
		t.Fatal(err)
	}
	if err := WriteColorText(&color, fixture(), fixtureFiles); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("WriteText wrote ANSI escapes")
	}
	if !strings.Contains(color.String(), "\x1b[1;31merror") || !strings.Contains(color.String(), "\x1b[1;33mwarning") {
		t.Errorf("WriteColorText did not colour the severities:\n%q", color.String())
	}
	stripped := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(color.String(), "")
	if stripped != plain.String() {
		t.Errorf("WriteColorText without its escapes differs from WriteText:\n%s\n---\n%s", stripped, plain.String())
	}
}

// TestCaretAlignsUnderColumn checks the property golden files only show
// by eye: the caret sits under the column, with tabs and multi-byte runes
// before it.
func TestCaretAlignsUnderColumn(t *testing.T) {
	tests := []struct {
		name, line string
		col, end   int
		want       string
	}{
		{"plain", "  say: hi", 3, 6, "  ^~~"},
		{"tabs kept", "\t\tsay: hi", 3, 6, "\t\t^~~"},
		{"multi-byte runes count once", "é ü say", 5, 8, "    ^~~"},
		{"end past line is clipped", "ab", 2, 9, " ^"},
		{"column past line", "ab", 7, 0, "  ^"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			r := Range{Start: Pos{Line: 1, Column: tc.col}}
			if tc.end > 0 {
				r.End = Pos{Line: 1, Column: tc.end}
			}
			writeSnippet(&b, []string{tc.line}, r)
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("snippet has %d lines, want 2: %q", len(lines), b.String())
			}
			got := strings.SplitN(lines[1], " | ", 2)[1]
			if got != tc.want {
				t.Errorf("caret line = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRuleTable(t *testing.T) {
	idForm := regexp.MustCompile(`^PARLEY-\d{3}$`)
	slugForm := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	slugs := map[string]RuleID{}
	rs := Rules()
	if len(rs) < 25 {
		t.Fatalf("Rules() has %d rules, want at least 25", len(rs))
	}
	for i, r := range rs {
		if !idForm.MatchString(string(r.ID)) {
			t.Errorf("rule ID %q is not of the form PARLEY-123", r.ID)
		}
		if !slugForm.MatchString(r.Slug) {
			t.Errorf("rule %s slug %q is not kebab-case", r.ID, r.Slug)
		}
		if prev, dup := slugs[r.Slug]; dup {
			t.Errorf("slug %q used by %s and %s", r.Slug, prev, r.ID)
		}
		slugs[r.Slug] = r.ID
		if r.Summary == "" || r.Help == "" {
			t.Errorf("rule %s has no summary or help", r.ID)
		}
		if r.Severity != Error && r.Severity != Warning && r.Severity != Info {
			t.Errorf("rule %s has invalid severity %d", r.ID, r.Severity)
		}
		if i > 0 && rs[i-1].ID >= r.ID {
			t.Errorf("Rules() not sorted at %s", r.ID)
		}
	}
}

func TestSuggestStaysBoundedOnHugeFlows(t *testing.T) {
	names := make([]string, 0, maxSuggestCandidates+1)
	for i := 0; i < maxSuggestCandidates; i++ {
		names = append(names, fmt.Sprintf("step_%04d", i))
	}
	if got := Suggest("step_0O42", names); got != "step_0042" {
		t.Errorf("Suggest among %d names = %q, want step_0042", len(names), got)
	}
	if got := Suggest("stpe_0042", names); got != "step_0042" {
		t.Errorf("Suggest(transposition) = %q, want step_0042", got)
	}
	names = append(names, "extra")
	if got := Suggest("step_0O42", names); got != "" {
		t.Errorf("Suggest among %d names = %q, want no suggestion past the cap", len(names), got)
	}
}
