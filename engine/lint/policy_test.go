package lint_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/lint"
)

func write(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindPolicyGoesUpButNotPastTheRepository(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, ".parley.yaml"), "links:\n  allow: [outside.example]\n")
	repo := filepath.Join(root, "repo")
	if err := os.MkdirAll(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(repo, "team", "flows", "support")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := lint.FindPolicy(deep); err != nil || got != "" {
		t.Errorf("FindPolicy below a repository without a policy = %q, %v; want none (the one above the repository does not apply)", got, err)
	}
	want := filepath.Join(repo, "team", ".parley.yaml")
	write(t, want, "rules:\n  no-human-route: off\n")
	if got, err := lint.FindPolicy(deep); err != nil || got != want {
		t.Errorf("FindPolicy = %q, %v; want %q", got, err, want)
	}
}

func TestPolicySeveritiesApplyToTheCatalogue(t *testing.T) {
	src, err := os.ReadFile("testdata/PARLEY-605/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := check.Source("bad.yaml", src)
	count := func(p *lint.Policy, sev diag.Severity) int {
		n := 0
		for _, d := range lint.Flow(r, p) {
			if d.Rule == diag.NoHumanRoute && d.Severity == sev {
				n++
			}
		}
		return n
	}
	if n := count(nil, diag.Warning); n != 1 {
		t.Fatalf("default policy: %d no-human-route warnings, want 1", n)
	}
	for _, c := range []struct {
		policy string
		sev    diag.Severity
		want   int
	}{
		{"rules:\n  no-human-route: error\n", diag.Error, 1},
		{"rules:\n  PARLEY-605: info\n", diag.Info, 1},
		{"rules:\n  PARLEY-605: off\n", diag.Warning, 0},
	} {
		p, ds := lint.ParsePolicy(".parley.yaml", []byte(c.policy))
		if len(ds) > 0 {
			t.Fatalf("policy %q: %v", c.policy, ds)
		}
		if got := count(p, c.sev); got != c.want {
			t.Errorf("policy %q: %d findings of severity %s, want %d", c.policy, got, c.sev, c.want)
		}
	}
}

func TestPolicyKeepsDefaultsForKeysLeftOutOrWrong(t *testing.T) {
	p, ds := lint.ParsePolicy("p.yaml", []byte("retention:\n  max:\n    consent: 1y\n    contract: soon\n"))
	def := lint.DefaultPolicy()
	if len(ds) != 1 || ds[0].Subject.Start.Line != 4 || ds[0].Rule != diag.InvalidPolicy {
		t.Fatalf("diagnostics = %v, want one PARLEY-020 on line 4", ds)
	}
	if got := p.MaxRetention["consent"]; got != 365*24*60*60*1e9 {
		t.Errorf("consent maximum = %v, want 1y from the file", got)
	}
	if got, want := p.MaxRetention["contract"], def.MaxRetention["contract"]; got != want {
		t.Errorf("contract maximum = %v, want the default %v when the value is wrong", got, want)
	}
	if got, want := p.MaxSpecial["health"], def.MaxSpecial["health"]; got != want {
		t.Errorf("health maximum = %v, want the default %v when left out", got, want)
	}
}
