package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestLintColorOnlyOnTerminal: with --color auto (the default), text is
// coloured only when stdout is a character device (a terminal) and NO_COLOR
// is unset; a pipe or a file never gets escapes. /dev/null stands in for
// the terminal: it is the character device every test machine has.
func TestLintColorOnlyOnTerminal(t *testing.T) {
	dir := t.TempDir()
	flowPath := dir + "/bad.yaml"
	if err := os.WriteFile(flowPath, []byte("parley: 1\nid: b\nversion: 1\nstart: a\nsteps:\n  a:\n    sy: hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipeR.Close()
	defer pipeW.Close()
	file, err := os.Create(dir + "/out.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	c := &cli{getenv: func(string) string { return "" }}
	if !c.isTerminal(devNull) {
		t.Errorf("isTerminal(%s) = false, want true for a character device", os.DevNull)
	}
	for name, w := range map[string]io.Writer{"pipe": pipeW, "file": file, "buffer": &bytes.Buffer{}} {
		if c.isTerminal(w) {
			t.Errorf("isTerminal(%s) = true, want false", name)
		}
	}
	c.getenv = func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return ""
	}
	if c.isTerminal(devNull) {
		t.Error("isTerminal with NO_COLOR set = true, want false")
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"lint", flowPath}, strings.NewReader(""), &out, &errOut); code != exitFindings || strings.Contains(out.String(), "\x1b[") || !strings.Contains(out.String(), "error:") {
		t.Errorf("lint into a buffer: exit %d, output %q; want 1 and plain text", code, out.String())
	}
}
