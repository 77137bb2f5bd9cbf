package main

import (
	"fmt"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/lint"
)

func init() {
	register(&command{
		name:    "lint",
		summary: "check flow files and report every problem with file:line:col",
		usage:   "parley lint [flags] PATH...",
		help: `Checks flow files: YAML structure, keys and types against the schema, step
targets, declared fields and purposes, translations, expressions, unreachable
steps, privacy, WhatsApp and flow rules (docs/rules.md). PATH is a file or a directory (searched recursively
for *.yaml and *.yml).

Each problem is printed as
  file:line:col: error|warning: message [PARLEY-NNN]
followed by the source line and a caret under the column.

A policy file .parley.yaml in the directory of the flows or above (up to
the repository root) sets maximum retention, allowed link and integration
domains and rule severities; without one the defaults apply. A comment
  # parley:ignore PARLEY-NNN -- reason
on the line of a finding, or on its own line above it, suppresses it.

Exit status: 0 when no file has errors (warnings alone pass unless
--max-warnings is exceeded), 1 when any file has errors, 2 on usage errors,
unreadable paths, or when no flow file matched.`,
		run: runLint,
	})
}

func runLint(c *cli, args []string) int {
	fs := c.flags(commands["lint"])
	format := fs.String("format", "text", "output format: text or json")
	maxWarnings := fs.Int("max-warnings", -1, "fail when there are more warnings than this (-1: no limit)")
	quiet := fs.Bool("quiet", false, "print nothing when there are no findings")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(c.stderr, "parley lint: name at least one flow file or directory, for example: parley lint flows/")
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(c.stderr, "parley lint: unknown --format %q: use text or json\n", *format)
		return exitUsage
	}
	paths, err := check.Expand(fs.Args())
	if err != nil {
		fmt.Fprintf(c.stderr, "parley lint: %v\n", err)
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintf(c.stderr, "parley lint: no flow files (*.yaml, *.yml) found in %v\n", fs.Args())
		return exitUsage
	}
	checked, err := check.Files(paths)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley lint: %v\n", err)
		return exitUsage
	}
	linted, err := lint.Run(checked)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley lint: %v\n", err)
		return exitUsage
	}
	all := linted.Diags
	switch *format {
	case "json":
		if err := diag.WriteJSON(c.stdout, all); err != nil {
			fmt.Fprintf(c.stderr, "parley lint: %v\n", err)
			return exitFailure
		}
	default:
		diag.WriteText(c.stdout, all, linted.Source)
		errs, warns := all.Count(diag.Error), all.Count(diag.Warning)
		if errs+warns > 0 || !*quiet {
			fmt.Fprintf(c.stderr, "%d %s checked: %s, %s\n", len(paths), plural(len(paths), "file", "files"),
				plural(errs, "1 error", fmt.Sprintf("%d errors", errs)), plural(warns, "1 warning", fmt.Sprintf("%d warnings", warns)))
		}
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

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
