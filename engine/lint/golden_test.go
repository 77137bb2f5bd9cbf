package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/lint"
)

// want marks an expected finding in a golden case: `# want RULE...` on the
// line of the finding, or `# want-next RULE...` on the line above it. A
// quoted text after the rules must appear in the finding's message.
var wantRe = regexp.MustCompile(`#\s*want(-next)?((?:\s+PARLEY-[0-9]{3})+)(?:\s+"([^"]*)")?`)

type finding struct {
	file string
	line int
	rule diag.RuleID
}

func (f finding) String() string { return fmt.Sprintf("%s:%d %s", f.file, f.line, f.rule) }

// lintPath runs `parley lint`'s pipeline on a file or directory: check, then
// the catalogue under the policy found above it.
func lintPath(t *testing.T, path string) (*lint.Report, []string) {
	t.Helper()
	paths, err := check.Expand([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	set, err := check.Files(paths)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := lint.Run(set)
	if err != nil {
		t.Fatal(err)
	}
	files := paths
	if pol, _ := lint.FindPolicy(filepath.Dir(paths[0])); pol != "" {
		files = append(files, pol)
	}
	return rep, files
}

func wants(t *testing.T, files []string) map[finding]string {
	t.Helper()
	out := map[finding]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, m := range wantRe.FindAllStringSubmatch(line, -1) {
				n := i + 1
				if m[1] != "" {
					n++
				}
				for _, r := range strings.Fields(m[2]) {
					out[finding{filepath.Base(f), n, diag.RuleID(r)}] = m[3]
				}
			}
		}
	}
	return out
}

// TestGolden runs every case under testdata/RULE-ID: a bad* case must give
// exactly the findings its `# want` comments name, a good* case none.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/PARLEY-*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		rule := diag.RuleID(filepath.Base(dir))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			bad, good := strings.HasPrefix(name, "bad"), strings.HasPrefix(name, "good")
			if !bad && !good {
				continue
			}
			t.Run(string(rule)+"/"+name, func(t *testing.T) {
				rep, files := lintPath(t, filepath.Join(dir, name))
				got := map[finding]*diag.Diagnostic{}
				for _, d := range rep.Diags {
					got[finding{filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Rule}] = d
				}
				want := wants(t, files)
				if bad {
					hasRule := false
					for w := range want {
						hasRule = hasRule || w.rule == rule
					}
					if !hasRule {
						t.Fatalf("bad case wants no %s finding: mark the line with # want %s", rule, rule)
					}
				} else if len(want) > 0 {
					t.Fatalf("good case has # want comments: %v", want)
				}
				var unexpected, missing []string
				for f, d := range got {
					if _, ok := want[f]; !ok {
						unexpected = append(unexpected, d.Error())
					}
				}
				for f, text := range want {
					switch d := got[f]; {
					case d == nil:
						missing = append(missing, f.String())
					case !strings.Contains(d.Summary, text):
						missing = append(missing, fmt.Sprintf("%s saying %q (got %q)", f, text, d.Summary))
					}
				}
				sort.Strings(unexpected)
				sort.Strings(missing)
				if len(unexpected) > 0 {
					t.Errorf("unexpected findings:\n%s", strings.Join(unexpected, "\n"))
				}
				if len(missing) > 0 {
					t.Errorf("wanted findings not reported: %s", strings.Join(missing, ", "))
				}
			})
		}
	}
}

// TestEveryCatalogueRuleHasGoldenCases: each rule of the catalogue has a
// directory with at least one bad and one good case, and its summary, help,
// slug and example in the rule table.
func TestEveryCatalogueRuleHasGoldenCases(t *testing.T) {
	for _, id := range lint.Catalogue() {
		r, ok := diag.Lookup(id)
		if !ok || r.Summary == "" || r.Help == "" || r.Slug == "" || r.Example == "" {
			t.Errorf("%s: not in the rule table, or without summary, help, slug or example", id)
		}
		var bad, good bool
		entries, _ := os.ReadDir(filepath.Join("testdata", string(id)))
		for _, e := range entries {
			bad = bad || strings.HasPrefix(e.Name(), "bad")
			good = good || strings.HasPrefix(e.Name(), "good")
		}
		if !bad || !good {
			t.Errorf("%s (%s) has no golden case pair: add testdata/%s/bad.yaml (marked with # want %s) and good.yaml", id, r.Slug, id, id)
		}
	}
}
