package validate_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/diag"
)

// TestDocsExampleIsClean keeps every complete example flow in
// docs/language.md a flow that passes load and validate.
func TestDocsExampleIsClean(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	n := 0
	for _, b := range blocks {
		example := b[1]
		if !regexp.MustCompile(`(?m)^parley: 1$`).Match(example) || !regexp.MustCompile(`(?m)^steps:$`).Match(example) {
			continue
		}
		n++
		if ds := check("docs/language.md", example); len(ds) != 0 {
			t.Errorf("example flow %d in docs/language.md has diagnostics:\n%s", n, render(t, ds, "docs/language.md", example))
		}
	}
	if n < 2 {
		t.Fatalf("docs/language.md has %d complete example flows, want the booking one and the menu one", n)
	}
}

// TestDocsStepExamplesHaveValidShape: every step example under "Step keys"
// in docs/language.md, put into a flow, uses only keys the schema knows,
// with values of the right shape, in combinations a step allows. (The
// fields, purposes and steps an example names are not declared, so only
// shape diagnostics count.)
func TestDocsStepExamplesHaveValidShape(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Step keys\n")
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 10 {
		t.Fatalf("found %d step examples under \"Step keys\", want one per step key", len(blocks))
	}
	for i, b := range blocks {
		src := "parley: 1\nid: docs\nversion: 1\nsteps:\n" + regexp.MustCompile("(?m)^").ReplaceAllString(strings.TrimRight(b[1], "\n"), "  ") + "\n"
		var shape diag.Diagnostics
		for _, d := range check("example.yaml", []byte(src)) {
			if strings.HasPrefix(string(d.Rule), "PARLEY-1") && d.Rule != diag.MissingKey || d.Rule == diag.StepShape || strings.HasPrefix(string(d.Rule), "PARLEY-0") {
				shape = append(shape, d)
			}
		}
		if len(shape) > 0 {
			t.Errorf("step example %d under \"Step keys\" in docs/language.md:\n%s", i+1, render(t, shape, "example.yaml", []byte(src)))
		}
	}
}
