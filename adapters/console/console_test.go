package console

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryTextInBothLanguages: the console's words are in console.js as
// T.en and T.it; each key is in both, and every data-t of the page and
// every t('…') of the script names one.
func TestEveryTextInBothLanguages(t *testing.T) {
	js, err := static.ReadFile("static/console.js")
	if err != nil {
		t.Fatal(err)
	}
	html, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	src := string(js)
	start, mid, end := strings.Index(src, "    en: {"), strings.Index(src, "    it: {"), strings.Index(src, "  var $ =")
	if start < 0 || mid < start || end < mid {
		t.Fatal("console.js no longer has the T.en and T.it blocks this test reads")
	}
	key := regexp.MustCompile(`(?m)(?:^\s*|, )(\w+): '`)
	keys := func(block string) []string {
		var out []string
		for _, m := range key.FindAllStringSubmatch(block, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	en, it := keys(src[start:mid]), keys(src[mid:end])
	if len(en) < 50 {
		t.Fatalf("read %d English keys; the pattern no longer matches the file", len(en))
	}
	for _, k := range en {
		if !slices.Contains(it, k) {
			t.Errorf("Italian lacks %q", k)
		}
	}
	for _, k := range it {
		if !slices.Contains(en, k) {
			t.Errorf("English lacks %q", k)
		}
	}
	used := regexp.MustCompile(`data-t="(\w+)"`).FindAllStringSubmatch(string(html), -1)
	used = append(used, regexp.MustCompile(`\bt\('(\w+)'`).FindAllStringSubmatch(src, -1)...)
	for _, m := range used {
		if !slices.Contains(en, m[1]) {
			t.Errorf("%q is used but has no text", m[1])
		}
	}
}
