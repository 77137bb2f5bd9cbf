package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/flow"
	"github.com/parleyhq/parley/engine/lint"
)

func init() {
	register(&command{
		name:    "diff",
		summary: "show only the privacy-relevant changes between two versions of the flows",
		usage:   "parley diff [flags] OLD NEW | parley diff --git REF [PATH...]",
		help: `Compares two versions of the flows and prints only what matters for privacy:
a field added or removed, a retention raised, a recipient (integration) added
or pointed at another host, a legal basis changed, a special category added,
and flows added or removed. Flows are matched by their id, so a renamed file
is not a change. Other edits (wording, steps, order) are not shown.

OLD and NEW are flow files or directories. With --git REF, OLD is the flows
as committed in REF (read with git show) and NEW the files on disk; PATH
defaults to flows/. Flags may come before or after the paths.

The output is markdown (a table ready for a pull-request comment) or, with
--format json, {"version": 1, "changes": [{kind, flow, field, old, new, file}]}.
It holds declarations only (names, retentions, bases, hosts), never data.

Exit status: 0 (also with changes, unless --fail-on-change), 1 when
--fail-on-change is set and there are changes, 2 on usage errors, unreadable
paths, no flow file, or a git revision that cannot be read.`,
		run: runDiff,
	})
}

func runDiff(c *cli, args []string) int {
	fs := c.flags(commands["diff"])
	format := fs.String("format", "md", "output format: md or json")
	gitRef := fs.String("git", "", "compare the files on disk with this git revision (a branch, tag or commit)")
	failOnChange := fs.Bool("fail-on-change", false, "exit 1 when there is any privacy-relevant change")
	pos, code, ok := c.parseAnywhere(fs, args)
	if !ok {
		return code
	}
	if !slices.Contains([]string{"md", "json"}, *format) {
		fmt.Fprintf(c.stderr, "parley diff: unknown --format %q: use md or json\n", *format)
		return exitUsage
	}
	var old, cur []*flow.Flow
	if *gitRef != "" {
		if len(pos) == 0 {
			pos = []string{"flows"}
		}
		var err error
		if old, err = flowsAtRevision(*gitRef, pos); err != nil {
			fmt.Fprintf(c.stderr, "parley diff: %v\n", err)
			return exitUsage
		}
	} else {
		if len(pos) != 2 {
			fmt.Fprintln(c.stderr, "parley diff: name the old and the new flows, for example: parley diff old/flows flows, or use --git main")
			return exitUsage
		}
		set, _, code := c.checkPaths("parley diff", pos[:1])
		if set == nil {
			return code
		}
		old, pos = flowsOf(set), pos[1:]
	}
	set, _, code := c.checkPaths("parley diff", pos)
	if set == nil {
		return code
	}
	cur = flowsOf(set)
	changes := lint.Diff(lint.Inventories(old), lint.Inventories(cur))
	var err error
	if *format == "json" {
		err = lint.WriteDiffJSON(c.stdout, changes)
	} else {
		err = lint.WriteDiffMarkdown(c.stdout, changes)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley diff: write the report: %v\n", err)
		return exitFailure
	}
	if *failOnChange && len(changes) > 0 {
		fmt.Fprintf(c.stderr, "parley diff: %d privacy-relevant %s (--fail-on-change)\n", len(changes), plural(len(changes), "change", "changes"))
		return exitFindings
	}
	return exitOK
}

// flowsAtRevision reads the flow files under paths as committed in ref.
// Paths are relative to the working directory, as git resolves them.
func flowsAtRevision(ref string, paths []string) ([]*flow.Flow, error) {
	if strings.HasPrefix(ref, "-") {
		return nil, fmt.Errorf("--git %q is not a revision", ref)
	}
	list, err := git(append([]string{"ls-tree", "-r", "--name-only", ref, "--"}, paths...)...)
	if err != nil {
		return nil, err
	}
	var out []*flow.Flow
	for _, name := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if name == "" || !check.IsFlowFile(name) || check.IsTestFile(name) {
			continue
		}
		src, err := git("show", ref+":./"+name)
		if err != nil {
			return nil, err
		}
		if r := check.Source(ref+":"+name, src); r.Flow != nil {
			out = append(out, r.Flow)
		}
	}
	return out, nil
}

// git runs git and returns its output, or an error holding what git said.
func git(args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("git", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
