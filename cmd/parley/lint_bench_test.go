package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/check"
)

// BenchmarkLintDirectory is `parley lint DIR` end to end (expand, read,
// load, validate, compile, render) on 100 realistic flows: the shipped
// ones, copied under distinct ids.
func BenchmarkLintDirectory(b *testing.B) {
	shipped, err := check.Expand([]string{"../../flows"})
	if err != nil || len(shipped) == 0 {
		b.Fatalf("no shipped flows: %v", err)
	}
	dir := b.TempDir()
	for i := 0; i < 100; i++ {
		src, err := os.ReadFile(shipped[i%len(shipped)])
		if err != nil {
			b.Fatal(err)
		}
		src = bytes.Replace(src, []byte("\nid: "), []byte(fmt.Sprintf("\nid: copy%03d-", i)), 1)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("flow%03d.yaml", i)), src, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		var errOut bytes.Buffer
		if code := run([]string{"lint", dir}, strings.NewReader(""), io.Discard, &errOut); code != exitOK {
			b.Fatalf("lint of 100 shipped flows: exit %d\n%s", code, errOut.String())
		}
	}
}
