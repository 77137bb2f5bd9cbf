package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMETutorial runs the README's tutorial: its flow lints clean, chats
// as described, and the typo it suggests gives exactly the output it shows.
func TestREADMETutorial(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)Create `flows/hello.yaml`:\n\n   ```yaml\n(.*?)   ```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no tutorial flow")
	}
	var flowSrc strings.Builder
	for _, l := range strings.Split(string(m[1]), "\n") {
		flowSrc.WriteString(strings.TrimPrefix(l, "   ") + "\n")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flows"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	path := "flows/hello.yaml"
	if err := os.WriteFile(path, []byte(flowSrc.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"lint", path}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("lint of the tutorial flow = exit %d, want 0\n%s%s", code, out.String(), errOut.String())
	}

	out.Reset()
	code := run([]string{"chat", "--flow", path}, strings.NewReader("hi\nAda\n"), &out, &errOut)
	if code != exitOK || !strings.Contains(out.String(), "Nice to meet you, Ada!") || !strings.Contains(out.String(), "legitimate interests") {
		t.Errorf("tutorial chat = exit %d, output:\n%s\nwant a notice naming legitimate interests and the greeting", code, out.String())
	}

	typo := strings.Replace(flowSrc.String(), "save: name", "save: nmae", 1)
	if err := os.WriteFile(path, []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"lint", path}, nil, &out, &errOut); code != exitFindings {
		t.Errorf("lint with the typo = exit %d, want 1", code)
	}
	shown := regexp.MustCompile("(?s)and lint again:\n\n   ```\n(.*?)   ```").FindSubmatch(readme)
	if shown == nil {
		t.Fatal("README does not show the typo's lint output")
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(string(shown[1]), "\n"), "\n") {
		want.WriteString(strings.TrimPrefix(l, "   ") + "\n")
	}
	if out.String() != want.String() {
		t.Errorf("lint output for the typo:\n%s\nREADME shows:\n%s", out.String(), want.String())
	}
}
