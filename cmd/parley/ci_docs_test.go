package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// parleyCommand finds a parley invocation in a shell line, up to a pipe,
// redirect, "||", ";", "}" or the backtick that ends inline code.
var parleyCommand = regexp.MustCompile("\\bparley ((?:lint|diff|ropa)\\b[^|>;}`\n]*)")

// TestCIDocsCommandsRun runs every parley command that docs/ci.md and the
// repository's workflow show, through the real entry point on this
// repository's flows: each must be accepted (exit 0, or 1 for findings or
// changes), so the documented flags cannot drift from the binary.
func TestCIDocsCommandsRun(t *testing.T) {
	var sources []string
	for _, p := range []string{"../../docs/ci.md", "../../.github/workflows/lint.yml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	vars := strings.NewReplacer(`"$FLOWS"`, "flows/", `"origin/$BASE_REF"`, "HEAD", `"origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"`, "HEAD",
		"origin/main", "HEAD", "--git main", "--git HEAD", `"`, "", `--format md\`, "--format md")
	seen := map[string]bool{}
	t.Chdir("../..")
	for _, src := range sources {
		for _, text := range strings.Split(src, "\n") {
			m := parleyCommand.FindStringSubmatchIndex(text)
			if m == nil || strings.Contains(text[:m[0]], "#") {
				continue // prose in a comment, not a command
			}
			cmd, _, _ := strings.Cut(text[m[2]:m[3]], " #")
			line := strings.TrimSpace(vars.Replace(cmd))
			if seen[line] || strings.Contains(line, "$") {
				continue
			}
			seen[line] = true
			var out, errOut bytes.Buffer
			code := run(strings.Fields(line), strings.NewReader(""), &out, &errOut)
			if code != exitOK && code != exitFindings {
				t.Errorf("parley %s: exit %d\n%s", line, code, errOut.String())
			}
		}
	}
	for _, want := range []string{"lint flows/ --format github", "lint flows/ --format sarif", "lint --summary flows/", "diff --git HEAD flows/", "ropa flows/ --format md"} {
		if !seen[want] {
			t.Errorf("docs/ci.md and the workflow never run `parley %s`", want)
		}
	}
}

// TestRepositoryWorkflowLintsFlows checks that the repository's own
// workflow is valid YAML that lints flows/ in every form docs/ci.md shows.
func TestRepositoryWorkflowLintsFlows(t *testing.T) {
	b, err := os.ReadFile("../../.github/workflows/lint.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Env   map[string]string
			Steps []struct {
				Uses string
				Run  string
				With map[string]any
			}
		}
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("workflow is not YAML: %v", err)
	}
	job, ok := wf.Jobs["lint"]
	if !ok || job.Env["FLOWS"] != "flows/" {
		t.Fatalf("workflow has no lint job on FLOWS=flows/: %+v", wf.Jobs)
	}
	var runs, uses []string
	for _, s := range job.Steps {
		runs = append(runs, s.Run)
		uses = append(uses, s.Uses)
	}
	all := strings.Join(runs, "\n")
	for _, want := range []string{`parley lint "$FLOWS" --format github`, `parley lint "$FLOWS" --format sarif > parley.sarif`, `parley lint --summary "$FLOWS"`, `parley diff --git "origin/$BASE_REF" "$FLOWS"`, "gh pr comment"} {
		if !strings.Contains(all, want) {
			t.Errorf("workflow does not run %q", want)
		}
	}
	if !strings.Contains(strings.Join(uses, "\n"), "github/codeql-action/upload-sarif") {
		t.Error("workflow does not upload the SARIF to code scanning")
	}
}
