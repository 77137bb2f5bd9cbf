package validate_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/lint"
	"github.com/parleyhq/parley/engine/load"
	"github.com/parleyhq/parley/engine/validate"
)

var update = flag.Bool("update", false, "rewrite golden files")

// check runs the same pipeline as parley lint up to compile: load, then
// validate whatever load could build.
func check(name string, src []byte) diag.Diagnostics {
	f, ds := load.File(name, src)
	ds.Extend(validate.Flow(f))
	ds.Sort()
	return ds
}

func render(t *testing.T, ds diag.Diagnostics, name string, src []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	err := diag.WriteText(&b, ds, func(f string) []byte {
		if f == name {
			return src
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var wantRule = regexp.MustCompile(`#\s*want\s+(PARLEY-\d{3})`)

// TestCorpus loads every broken flow in testdata/corpus, compares the
// rendered diagnostics with its .golden file, and checks that every rule
// named in a "# want PARLEY-NNN" comment was reported.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("corpus has %d flows, want at least 25", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.ToSlash(path)
			ds := check(name, src)
			if len(ds) == 0 {
				t.Errorf("no diagnostics for a flow in the broken corpus")
			}
			got := map[diag.RuleID]bool{}
			for _, d := range ds {
				got[d.Rule] = true
			}
			for _, m := range wantRule.FindAllStringSubmatch(string(src), -1) {
				if !got[diag.RuleID(m[1])] {
					t.Errorf("want %s, not reported", m[1])
				}
			}
			out := render(t, ds, name, src)
			gpath := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(gpath, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(gpath)
			if err != nil {
				t.Fatalf("%v (run go test ./engine/validate -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("diagnostics differ from %s\n--- got:\n%s--- want:\n%s", gpath, out, want)
			}
		})
	}
}

// TestCorpusCoversEveryRule keeps the corpus honest: each rule load and
// validate can emit has at least one broken flow that triggers it.
func TestCorpusCoversEveryRule(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.yaml")
	seen := map[diag.RuleID]bool{}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range check(path, src) {
			seen[d.Rule] = true
		}
	}
	ownedByLint := map[diag.RuleID]bool{}
	for _, id := range lint.Catalogue() {
		ownedByLint[id] = true
	}
	for _, id := range lint.Referenced {
		ownedByLint[id] = false
	}
	for _, r := range diag.Rules() {
		switch {
		case r.ID == diag.ExprError, r.ID == diag.TypeMismatch:
			continue // reported by engine/compile
		case ownedByLint[r.ID]:
			continue // the lint catalogue's own rules have golden cases in engine/lint
		case r.ID == diag.FileTooLarge:
			continue // needs a file over 1 MiB: engine/load tests it
		case r.ID >= diag.FlowTestInvalid && r.ID <= diag.FlowTestFlow:
			continue // findings of parley test, about test files: engine/flowtest and cmd/parley test them
		}
		if !seen[r.ID] {
			t.Errorf("no corpus flow triggers %s (%s)", r.ID, r.Slug)
		}
	}
}

// knownBroken lists shipped flows that do not load yet, with the reason.
// The test fails when one of them starts to load clean, so the entry is
// removed as soon as the flow is fixed.
var knownBroken = map[string]string{}

func TestShippedFlowsAreClean(t *testing.T) {
	files, err := filepath.Glob("../../flows/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no flows found in ../../flows")
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.yaml") {
			continue // a flow test (parley test), not a flow
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ds := check(filepath.Base(path), src)
			if reason, ok := knownBroken[filepath.Base(path)]; ok {
				if !ds.HasErrors() {
					t.Errorf("flow loads clean now: remove it from knownBroken (%s)", reason)
				}
				return
			}
			if len(ds) > 0 {
				t.Errorf("shipped flow has diagnostics:\n%s", render(t, ds, filepath.Base(path), src))
			}
		})
	}
}
