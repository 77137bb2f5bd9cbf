package lint_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/lint"
)

// TestDocsExamplesDefinitelyAssigned: the complete example flows of
// docs/language.md use no field that some path leaves unset (PARLEY-216),
// so the docs teach default() and on_decline by example. Checked on the
// full lint pipeline, not check alone.
func TestDocsExamplesDefinitelyAssigned(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1) {
		if !regexp.MustCompile(`(?m)^parley: 1$`).Match(b[1]) || !regexp.MustCompile(`(?m)^steps:$`).Match(b[1]) {
			continue
		}
		n++
		r := check.Source("docs/language.md", b[1])
		if r.Program == nil {
			t.Fatalf("example flow %d does not compile: %v", n, r.Diags)
		}
		for _, d := range lint.Flow(r, nil) {
			if d.Rule == diag.MaybeUnset {
				t.Errorf("example flow %d: line %d: %s", n, d.Subject.Start.Line, d.Summary)
			}
		}
	}
	if n < 3 {
		t.Fatalf("found %d complete example flows in docs/language.md, want the booking, menu and opt-in ones", n)
	}
}
