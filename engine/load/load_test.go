package load

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

func mustLoad(t *testing.T, src string) (*flow.Flow, diag.Diagnostics) {
	t.Helper()
	return File("f.yaml", []byte(src))
}

const minimal = "parley: 1\nid: t\nversion: 1\nstart: a\nsteps:\n  a:\n    say: hi\n    end: true\n"

func TestLoadMinimalFlowIsClean(t *testing.T) {
	f, ds := mustLoad(t, minimal)
	if len(ds) != 0 {
		t.Fatalf("File(minimal) diagnostics = %v, want none", ds.Err())
	}
	if f == nil || len(f.Steps) != 1 || f.Steps[0].Say.Plain.Value != "hi" || !f.Steps[0].End.Value {
		t.Fatalf("File(minimal) built %+v, want one say step that ends", f)
	}
}

func TestLoadRejectsDuplicateKeys(t *testing.T) {
	_, ds := mustLoad(t, strings.Replace(minimal, "    say: hi\n", "    say: hi\n    say: again\n", 1))
	if len(ds) != 1 {
		t.Fatalf("got %d diagnostics, want 1: %v", len(ds), ds.Err())
	}
	d := ds[0]
	if d.Rule != diag.DuplicateKey || d.Subject.Start.Line != 8 || d.Subject.Start.Column != 5 {
		t.Errorf("got %s at %s, want %s at f.yaml:8:5 (the second key)", d.Rule, d.Subject, diag.DuplicateKey)
	}
	if !strings.Contains(d.Summary, "line 7") {
		t.Errorf("message %q does not say where the first key is (line 7)", d.Summary)
	}
}

func TestLoadRefusesAliasesWithoutExpanding(t *testing.T) {
	// A billion-laughs document must be refused quickly, without expansion.
	var b strings.Builder
	b.WriteString(minimal + "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("x" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, ds := mustLoad(t, b.String())
	n := 0
	for _, d := range ds {
		if d.Rule == diag.AliasNotAllowed {
			n++
		}
	}
	if n < 9 {
		t.Errorf("got %d %s diagnostics, want at least 9", n, diag.AliasNotAllowed)
	}
}

func TestLoadSyntaxErrorPositions(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
	}{
		{"unclosed flow list points at the line after", "a: [1, 2\nb: 3\n", 2, 1},
		{"bad indentation", "a:\n  - x\n b: 2\n", 3, 2},
		{"colon inside plain text", "a: b: c\n", 1, 1},
		{"nested mapping value", "a: b\n  c: d\n", 2, 3},
		{"question mark inside braces", "a: { en: Why?, it: x }\n", 1, 13},
		{"unterminated quote stays inside the file", "a: \"open\n", 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ds := mustLoad(t, tc.src)
			if f != nil || len(ds) != 1 || ds[0].Rule != diag.YAMLSyntax {
				t.Fatalf("got flow %v and %v, want only a %s", f != nil, ds.Err(), diag.YAMLSyntax)
			}
			if p := ds[0].Subject.Start; p.Line != tc.line || p.Column != tc.col {
				t.Errorf("position = %d:%d, want %d:%d", p.Line, p.Column, tc.line, tc.col)
			}
		})
	}
}

func TestLoadScalarRangesAndStyles(t *testing.T) {
	src := "parley: 1\nid: t\nversion: 1\nstart: a\nsteps:\n" +
		"  a:\n    say: \"Ciào {{ name }}\"\n" +
		"  b:\n    say: 'it''s'\n" +
		"  c:\n    say: |\n      block\n" +
		"  d:\n    say: plain é text\n    end: true\n"
	f, ds := mustLoad(t, src)
	if len(ds) != 0 {
		t.Fatalf("unexpected diagnostics: %v", ds.Err())
	}
	tests := []struct {
		step        string
		style       flow.ScalarStyle
		line, start int
		end         int // exclusive column, 0 = not set
	}{
		{"a", flow.DoubleQuoted, 7, 10, 27},
		{"b", flow.SingleQuoted, 9, 10, 17},
		{"c", flow.Literal, 11, 10, 0},
		{"d", flow.Plain, 14, 10, 22},
	}
	for _, tc := range tests {
		s := f.StepByID(tc.step).Say.Plain
		if s.Style != tc.style || s.Range.Start.Line != tc.line || s.Range.Start.Column != tc.start || s.Range.End.Column != tc.end {
			t.Errorf("step %s: style %d at %d:%d-%d, want style %d at %d:%d-%d", tc.step,
				s.Style, s.Range.Start.Line, s.Range.Start.Column, s.Range.End.Column, tc.style, tc.line, tc.start, tc.end)
		}
		if s.Range.Start.Byte < 0 || s.Range.Start.Byte >= len(src) {
			t.Errorf("step %s: start byte %d outside the file", tc.step, s.Range.Start.Byte)
		}
	}
	// Byte offsets count bytes, columns count runes.
	d := f.StepByID("d").Say.Plain
	if got := src[d.Range.Start.Byte:d.Range.End.Byte]; got != "plain é text" {
		t.Errorf("bytes of the plain scalar = %q, want %q", got, "plain é text")
	}
}

func TestLoadBuildsBrokenFilesPartially(t *testing.T) {
	src := strings.Replace(minimal, "    say: hi\n", "    say: [not, text]\n    nxt: b\n", 1) + "  b:\n    say: fine\n"
	f, ds := mustLoad(t, src)
	if !ds.HasErrors() {
		t.Fatal("want errors for a list as say and an unknown key")
	}
	if f == nil || f.StepByID("b") == nil || f.StepByID("b").Say.Plain.Value != "fine" {
		t.Fatalf("well-formed step b was not built")
	}
	var sugg string
	for _, d := range ds {
		if d.Rule == diag.UnknownKey {
			sugg = d.Suggestion
		}
	}
	if sugg != `did you mean "next"?` {
		t.Errorf("suggestion for nxt = %q, want did you mean \"next\"?", sugg)
	}
}

func TestLoadVersion(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantFlow bool
		rule     diag.RuleID
	}{
		{"newer version is refused", strings.Replace(minimal, "parley: 1", "parley: 2", 1), false, diag.SpecVersion},
		{"missing version", strings.Replace(minimal, "parley: 1\n", "", 1), true, diag.SpecVersion},
		{"empty file", "# just a comment\n", false, diag.EmptyFile},
		{"second document", minimal + "---\na: 1\n", true, diag.MultipleDocuments},
		{"custom tag", strings.Replace(minimal, "say: hi", "say: !env HI", 1), true, diag.CustomTag},
		{"numeric key", minimal + "  1: {say: x}\n", true, diag.NonTextKey},
		{"infinity", minimal + "fields:\n  n: {type: number, purpose: p, retention: 1d, min: .inf}\n", true, diag.InvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ds := mustLoad(t, tc.src)
			if (f != nil) != tc.wantFlow {
				t.Errorf("flow built = %v, want %v", f != nil, tc.wantFlow)
			}
			found := false
			for _, d := range ds {
				found = found || d.Rule == tc.rule
			}
			if !found {
				t.Errorf("diagnostics %v do not include %s", ds.Err(), tc.rule)
			}
		})
	}
}

func TestFS(t *testing.T) {
	fsys := fstest.MapFS{"flows/a.yaml": {Data: []byte(minimal)}}
	f, ds, err := FS(fsys, "flows/a.yaml")
	if err != nil || len(ds) != 0 || f == nil || f.File.Name != "flows/a.yaml" {
		t.Fatalf("FS = %v, %v, %v; want a clean flow named flows/a.yaml", f, ds.Err(), err)
	}
	if _, _, err := FS(fsys, "missing.yaml"); err == nil {
		t.Errorf("FS(missing file) error = nil, want an error")
	}
}

func seeds(f *testing.F) {
	for _, pattern := range []string{"../../flows/*.yaml", "../validate/testdata/corpus/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(minimal))
	f.Add([]byte(""))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("\xff\xfe\x00"))
}

// FuzzLoad: any bytes load without panic, every diagnostic lies inside the
// file, and the output is sorted. go test runs the seeds; go test -fuzz
// explores further.
func FuzzLoad(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		_, ds := File("fuzz.yaml", src)
		lines := strings.Count(string(src), "\n") + 1
		for _, d := range ds {
			r := d.Subject
			if r.Start.Line < 1 || r.Start.Line > lines || r.Start.Column < 1 {
				t.Fatalf("%s at %d:%d, outside a file of %d lines", d.Rule, r.Start.Line, r.Start.Column, lines)
			}
			if r.End.Line != 0 && (r.End.Line > lines || r.End.Line < r.Start.Line) {
				t.Fatalf("%s ends at line %d, outside the file", d.Rule, r.End.Line)
			}
			if r.Start.Byte > len(src) || r.End.Byte > len(src) {
				t.Fatalf("%s byte offset past the end", d.Rule)
			}
			if d.Severity == 0 || d.Summary == "" {
				t.Fatalf("diagnostic without severity or message: %+v", d)
			}
		}
		if !sort.SliceIsSorted(ds, func(i, j int) bool {
			a, b := ds[i].Subject.Start, ds[j].Subject.Start
			return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
		}) {
			t.Fatalf("diagnostics are not sorted")
		}
	})
}

// TestLoadUnquotedTemplateSaysQuoteIt: a text that starts with {{ without
// quotes is a YAML block, not a text; the author is told to quote it, at
// the {{, whether YAML fails to parse the line or reads it as a block.
func TestLoadUnquotedTemplateSaysQuoteIt(t *testing.T) {
	for _, tc := range []struct{ name, say string }{
		{"parse error", "{{ name }}, welcome"},
		{"block", "{{ name }}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := mustLoad(t, strings.Replace(minimal, "say: hi", "say: "+tc.say, 1))
			if len(ds) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(ds), ds.Err())
			}
			d := ds[0]
			if !strings.Contains(d.Summary, "quote this text") {
				t.Errorf("message %q does not say to quote the text", d.Summary)
			}
			wantLine, wantCol := 7, 10
			if d.Subject.Start.Line != wantLine || d.Subject.Start.Column != wantCol {
				t.Errorf("reported at %s, want f.yaml:%d:%d (the {{)", d.Subject, wantLine, wantCol)
			}
		})
	}
	// Quoted, it is a text.
	f, ds := mustLoad(t, strings.Replace(minimal, "say: hi", `say: "{{ name }}, welcome"`, 1))
	if len(ds) != 0 || f.Steps[0].Say.Plain.Value != "{{ name }}, welcome" {
		t.Errorf("quoted template: %v", ds.Err())
	}
}
