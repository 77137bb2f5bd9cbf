package validate_test

import (
	"os"
	"regexp"
	"testing"
)

// TestDocsExampleIsClean keeps the complete example in docs/language.md a
// flow that passes load and validate.
func TestDocsExampleIsClean(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	var example []byte
	for _, b := range blocks {
		if regexp.MustCompile(`(?m)^parley: 1$`).Match(b[1]) && regexp.MustCompile(`(?m)^steps:$`).Match(b[1]) {
			example = b[1]
			break
		}
	}
	if example == nil {
		t.Fatal("docs/language.md has no complete example flow")
	}
	if ds := check("docs/language.md", example); len(ds) != 0 {
		t.Errorf("the example flow in docs/language.md has diagnostics:\n%s", render(t, ds, "docs/language.md", example))
	}
}
