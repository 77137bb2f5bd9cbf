package validate_test

import (
	"os"
	"regexp"
	"testing"
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
