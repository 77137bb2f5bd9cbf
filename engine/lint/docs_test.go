package lint_test

import (
	"flag"
	"os"
	"testing"

	"github.com/parleyhq/parley/engine/lint"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md and golden files")

// TestDocsRulesUpToDate fails when docs/rules.md is not what the rule table
// generates; go test ./engine/lint -run Docs -update rewrites it.
func TestDocsRulesUpToDate(t *testing.T) {
	const path = "../../docs/rules.md"
	want := lint.RulesMarkdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./engine/lint -run Docs -update)", err)
	}
	if string(got) != want {
		t.Errorf("docs/rules.md is stale: run go test ./engine/lint -run Docs -update")
	}
}
