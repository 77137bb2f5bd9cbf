package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/lint"
)

// realisticFlows writes n flows to dir: the shipped booking, support and
// newsletter flows in turn, each under its own id, as a team's flows/
// directory would hold them.
func realisticFlows(tb testing.TB, dir string, n int) {
	tb.Helper()
	var shipped [][]byte
	for _, name := range []string{"booking", "support", "newsletter"} {
		src, err := os.ReadFile(filepath.Join("..", "..", "flows", name+".yaml"))
		if err != nil {
			tb.Fatal(err)
		}
		shipped = append(shipped, src)
	}
	for i := range n {
		src := string(shipped[i%len(shipped)])
		src = strings.Replace(src, "\nid: ", fmt.Sprintf("\nid: f%03d_", i), 1)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("flow%03d.yaml", i)), []byte(src), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLint100Flows is `parley lint DIR` on 100 realistic flows without
// the rendering: expand the directory, read, load, validate, compile, find
// the policy and run the catalogue.
func BenchmarkLint100Flows(b *testing.B) {
	dir := b.TempDir()
	realisticFlows(b, dir, 100)
	b.ReportAllocs()
	for b.Loop() {
		paths, err := check.Expand([]string{dir})
		if err != nil || len(paths) != 100 {
			b.Fatalf("expand: %d paths, %v", len(paths), err)
		}
		set, err := check.Files(paths)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := lint.Run(set)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Diags) != 0 {
			b.Fatalf("the shipped flows should lint clean, got %v", rep.Diags[0])
		}
	}
}
