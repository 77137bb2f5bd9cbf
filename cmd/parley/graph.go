package main

import (
	"fmt"
	"slices"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flowgraph"
)

func init() {
	register(&command{
		name:    "graph",
		summary: "draw a flow's steps and transitions, with the data each step collects (mermaid, dot or svg)",
		usage:   "parley graph FILE [--format mermaid|dot|svg] [flags]",
		help: `Prints the flow's steps and the transitions between them. Each step that
collects a field shows the field, its purpose, legal basis and retention;
steps that need consent, integration calls (what they send, to which host)
and hand-offs to a person stand out, and so do the paths taken when the
customer declines consent or an answer or a call fails.

Formats (--format):
  mermaid  a Mermaid flowchart (default): paste it into a Markdown file on
           GitHub or GitLab, or into mermaid.live.
  dot      Graphviz DOT: dot -Tpng booking.dot > booking.png
  svg      a self-contained SVG drawn by parley itself (no tool to install):
           open it in any browser.

The flow is linted first; a flow with errors is not drawn (exit 1).
Exit status: 0 drawn, 1 the flow has errors, 2 usage errors, 3 the file
cannot be read or the output written.`,
		run: runGraph,
	})
}

var graphFormats = []string{"mermaid", "dot", "svg"}

func runGraph(c *cli, args []string) int {
	fs := c.flags(commands["graph"])
	format := fs.String("format", "mermaid", "output format: mermaid, dot or svg")
	targets, code, ok := c.parseAnywhere(fs, args)
	if !ok {
		return code
	}
	if len(targets) != 1 {
		fmt.Fprintln(c.stderr, "parley graph: name one flow file, for example: parley graph flows/booking.yaml --format svg > booking.svg")
		return exitUsage
	}
	if !slices.Contains(graphFormats, *format) {
		fmt.Fprintf(c.stderr, "parley graph: unknown --format %q: use mermaid, dot or svg\n", *format)
		return exitUsage
	}
	res, err := check.File(targets[0])
	if err != nil {
		fmt.Fprintf(c.stderr, "parley graph: %v\n", err)
		return exitFailure
	}
	if res.Program == nil {
		diag.WriteText(c.stderr, res.Diags, func(string) []byte { return res.File.Src })
		fmt.Fprintf(c.stderr, "parley graph: %s has errors; fix them first (parley lint %s)\n", targets[0], targets[0])
		return exitFindings
	}
	g := flowgraph.Build(res.Program, res.Flow)
	switch *format {
	case "dot":
		err = g.WriteDOT(c.stdout)
	case "svg":
		err = g.WriteSVG(c.stdout)
	default:
		err = g.WriteMermaid(c.stdout)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley graph: write the graph: %v\n", err)
		return exitFailure
	}
	return exitOK
}
