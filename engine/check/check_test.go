package check_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/internal/flowgen"
)

func TestLargeFlowCompiles(t *testing.T) {
	r := check.Source("large.yaml", flowgen.Large(1000))
	if r.Program == nil || len(r.Diags) != 0 {
		t.Fatalf("generated flow: program %v, %d diagnostics: %v", r.Program != nil, len(r.Diags), r.Diags.Err())
	}
	if got := r.Program.NumSteps(); got != 1000 {
		t.Errorf("NumSteps() = %d, want 1000", got)
	}
}

func TestBrokenFlowHasNoProgram(t *testing.T) {
	r := check.Source("broken.yaml", []byte("parley: 1\nid: x\nversion: 1\nstart: a\nsteps:\n  a:\n    say: \"{{ nope }}\"\n"))
	if r.Program != nil || !r.Diags.HasErrors() {
		t.Fatalf("a flow with an unknown name compiled: program %v, diags %v", r.Program != nil, r.Diags)
	}
}

// BenchmarkLintLargeFlow is everything `parley lint` does to one file of
// 1,000 steps: parse, schema, checks and expression compilation.
func BenchmarkLintLargeFlow(b *testing.B) {
	src := flowgen.Large(1000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if r := check.Source("large.yaml", src); r.Program == nil {
			b.Fatal("no program")
		}
	}
}

// BenchmarkLintHostileExpressions checks a flow with 20,000 broken {{ }} on
// one line and 5,000 steps with one each: every diagnostic maps its
// expression offset to a line and column, which used to rescan the file
// (and the scalar) each time and took minutes for a 1 MB file.
func BenchmarkLintHostileExpressions(b *testing.B) {
	var src strings.Builder
	src.WriteString("parley: 1\nid: h\nversion: 1\nstart: s0\nsteps:\n  s0:\n    say: \"" + strings.Repeat("{{ a }}", 20000) + "\"\n")
	for i := 1; i < 5000; i++ {
		fmt.Fprintf(&src, "  s%d: {say: \"{{ b }}\"}\n", i)
	}
	b.SetBytes(int64(src.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if r := check.Source("hostile.yaml", []byte(src.String())); len(r.Diags) < 25000 {
			b.Fatalf("%d diagnostics, want one per broken expression", len(r.Diags))
		}
	}
}

// TestGraphIsCheckedWhenOtherPartsHaveErrors: a typo in one step does not
// hide an unreachable step or a loop that never waits elsewhere.
func TestGraphIsCheckedWhenOtherPartsHaveErrors(t *testing.T) {
	src := "parley: 1\nid: x\nversion: 1\nstart: a\nsteps:\n  a:\n    sayy: typo\n    next: b\n  b:\n    say: spin\n    next: a\n  c:\n    say: never\n    end: true\n"
	r := check.Source("broken.yaml", []byte(src))
	got := map[diag.RuleID]bool{}
	for _, d := range r.Diags {
		got[d.Rule] = true
	}
	for _, want := range []diag.RuleID{diag.UnknownKey, diag.LoopWithoutWait, diag.Unreachable} {
		if !got[want] {
			t.Errorf("diagnostics %v lack %s", r.Diags, want)
		}
	}
}

// TestExpandRefusesAHugeTree: a mistyped --flows (/, /tmp, a home folder)
// fails at once with a message naming the directory, instead of walking
// the whole disk.
func TestExpandRefusesAHugeTree(t *testing.T) {
	defer func(n int) { check.MaxWalk = n }(check.MaxWalk)
	check.MaxWalk = 200 // the real bound, 20,000, takes seconds to build on disk
	dir := t.TempDir()
	for i := range check.MaxWalk / 10 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.txt", j)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err := check.Expand([]string{dir})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "name the directory that holds the flows") {
		t.Fatalf("Expand of a tree of %d files = %v; want an error naming it", check.MaxWalk, err)
	}
	flows := t.TempDir()
	if err := os.WriteFile(filepath.Join(flows, "a.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := check.Expand([]string{flows}); err != nil || len(got) != 1 {
		t.Errorf("Expand of a small flows directory = %v, %v; want its one flow", got, err)
	}
}
