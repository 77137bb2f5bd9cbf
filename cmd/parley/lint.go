package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
	"github.com/parleyhq/parley/engine/lint"
)

func init() {
	register(&command{
		name:    "lint",
		summary: "check flow files and report every problem with file:line:col",
		usage:   "parley lint [flags] PATH... [flags]",
		help: `Checks flow files: YAML structure, keys and types against the schema, step
targets, declared fields and purposes, translations, expressions, unreachable
steps, privacy, WhatsApp and flow rules (docs/rules.md). PATH is a file or a
directory (searched recursively for *.yaml and *.yml). Flags may come before
or after the paths.

A policy file .parley.yaml in the directory of the flows or above (up to
the repository root) sets maximum retention, allowed link and integration
domains and rule severities; without one the defaults apply. A comment
  # parley:ignore PARLEY-NNN -- reason
on the line of a finding, or on its own line above it, suppresses it.

Formats (--format):
  text    file:line:col: error|warning: message [PARLEY-NNN], then the source
          line with a caret under the column. Coloured only when the output
          is a terminal and NO_COLOR is not set (--color changes that).
  json    one object: {"version": 1, "files": [...], "diagnostics": [...]}.
  sarif   SARIF 2.1.0 for code scanning (GitHub, GitLab, editors), with the
          rule table as rule metadata and help.
  github  GitHub Actions annotations:
          ::error file=F,line=L,col=C,title=PARLEY-NNN::message

--summary prints, instead of the problems, a markdown table per flow of what
it collects: field, type, purpose, legal basis, retention, special category
and recipients, ready to post as a pull-request comment.

Diagnostics go to stdout (so > report.sarif works); the count goes to stderr.

Exit status: 0 when no file has errors (warnings alone pass unless
--max-warnings is exceeded), 1 when any file has errors, 2 on usage errors,
unreadable paths, or when no flow file matched, 3 when the output cannot be
written.`,
		run: runLint,
	})
}

// lintFormats are the values --format accepts, in the order help lists them.
var lintFormats = []string{"text", "json", "sarif", "github"}

func runLint(c *cli, args []string) int {
	fs := c.flags(commands["lint"])
	format := fs.String("format", "text", "output format: text, json, sarif or github")
	color := fs.String("color", "auto", "colour text output: auto (only on a terminal without NO_COLOR), always or never")
	summary := fs.Bool("summary", false, "print the privacy summary of the flows as markdown instead of the problems")
	maxWarnings := fs.Int("max-warnings", -1, "fail when there are more warnings than this (-1: no limit)")
	quiet := fs.Bool("quiet", false, "print nothing when there are no findings")
	maxDiags := fs.Int("max-diagnostics", 50, "text format: show at most this many problems per file, then say how many more there are (0: all)")
	targets, code, ok := c.parseAnywhere(fs, args)
	if !ok {
		return code
	}
	if len(targets) == 0 {
		fmt.Fprintln(c.stderr, "parley lint: name at least one flow file or directory, for example: parley lint flows/")
		return exitUsage
	}
	if !slices.Contains(lintFormats, *format) {
		fmt.Fprintf(c.stderr, "parley lint: unknown --format %q: use text, json, sarif or github\n", *format)
		return exitUsage
	}
	if !slices.Contains([]string{"auto", "always", "never"}, *color) {
		fmt.Fprintf(c.stderr, "parley lint: unknown --color %q: use auto, always or never\n", *color)
		return exitUsage
	}
	if *summary && *format != "text" {
		fmt.Fprintf(c.stderr, "parley lint: --summary prints markdown and cannot be combined with --format %s; for data use parley ropa --format json\n", *format)
		return exitUsage
	}
	checked, paths, code := c.checkPaths("parley lint", targets)
	if checked == nil {
		return code
	}
	report, err := lint.Run(checked)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley lint: %v\n", err)
		return exitUsage
	}
	all := report.Diags
	switch {
	case *summary:
		err = lint.WriteSummary(c.stdout, flowsOf(checked))
	case *format == "json":
		err = diag.WriteJSON(c.stdout, paths, all)
	case *format == "sarif":
		err = diag.WriteSARIF(c.stdout, diag.SARIFTool{Name: "parley", Version: version()}, paths, all)
	case *format == "github":
		err = diag.WriteGitHub(c.stdout, all)
	default:
		write := diag.WriteText
		if *color == "always" || (*color == "auto" && c.isTerminal(c.stdout)) {
			write = diag.WriteColorText
		}
		err = writeTextCapped(c.stdout, all, report.Source, *maxDiags, write)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley lint: write the report: %v\n", err)
		return exitFailure
	}
	errs, warns := all.Count(diag.Error), all.Count(diag.Warning)
	if errs+warns > 0 || !*quiet {
		fmt.Fprintf(c.stderr, "%d %s checked: %s, %s\n", len(paths), plural(len(paths), "file", "files"),
			plural(errs, "1 error", fmt.Sprintf("%d errors", errs)), plural(warns, "1 warning", fmt.Sprintf("%d warnings", warns)))
	}
	if all.HasErrors() {
		return exitFindings
	}
	if *maxWarnings >= 0 && all.Count(diag.Warning) > *maxWarnings {
		fmt.Fprintf(c.stderr, "parley lint: %d warnings, more than --max-warnings=%d\n", all.Count(diag.Warning), *maxWarnings)
		return exitFindings
	}
	return exitOK
}

// writeTextCapped writes ds with write, at most max per file (0: all),
// each file's cut followed by one line saying how many were left out. A
// broken or hostile file can hold tens of thousands of problems; the first
// ones are what an author fixes first.
func writeTextCapped(w io.Writer, ds diag.Diagnostics, src func(string) []byte, max int,
	write func(io.Writer, diag.Diagnostics, func(string) []byte) error) error {
	if max <= 0 {
		return write(w, ds, src)
	}
	for len(ds) > 0 {
		n := 1
		for n < len(ds) && ds[n].Subject.Filename == ds[0].Subject.Filename {
			n++
		}
		group := ds[:n]
		ds = ds[n:]
		if len(group) <= max {
			if err := write(w, group, src); err != nil {
				return err
			}
			continue
		}
		if err := write(w, group[:max], src); err != nil {
			return err
		}
		left := len(group) - max
		if _, err := fmt.Fprintf(w, "%s: %d more %s not shown (--max-diagnostics 0 shows all)\n",
			group[0].Subject.Filename, left, plural(left, "problem", "problems")); err != nil {
			return err
		}
	}
	return nil
}

// checkPaths expands files and directories and checks every flow in them.
// On a usage problem (nothing named, a missing path, no flow file) it
// prints why and returns a nil set with the exit code.
func (c *cli) checkPaths(prog string, targets []string) (*check.Set, []string, int) {
	paths, err := check.Expand(targets)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", prog, err)
		return nil, nil, exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintf(c.stderr, "%s: no flow files (*.yaml, *.yml) found in %v\n", prog, targets)
		return nil, nil, exitUsage
	}
	checked, err := check.Files(paths)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", prog, err)
		return nil, nil, exitUsage
	}
	return checked, paths, exitOK
}

// flowsOf returns the flows that could be read, in path order.
func flowsOf(s *check.Set) []*flow.Flow {
	var out []*flow.Flow
	for _, r := range s.Results {
		if r.Flow != nil {
			out = append(out, r.Flow)
		}
	}
	return out
}

// isTerminal reports whether w is a terminal and colour is welcome there
// (NO_COLOR unset, https://no-color.org).
func (c *cli) isTerminal(w io.Writer) bool {
	if c.getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
