package check_test

import (
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
