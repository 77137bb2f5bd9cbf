// Package flowgraph draws a compiled flow: its steps and transitions, each
// step marked with the fields it collects and their purposes, consent,
// integration calls and hand-offs. parley graph prints it (Mermaid, DOT,
// SVG); the studio shows the SVG with the current step highlighted.
package flowgraph

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/flow"
)

// Node classes: how a step is drawn.
const (
	classTerminal = "terminal"
	classSay      = "say"
	classAsk      = "ask"
	classConsent  = "consent" // an ask whose purpose needs consent
	classBranch   = "branch"
	classCall     = "call"
	classHandoff  = "handoff"
	classForget   = "forget" // a forget or withdraw step: data is dropped
)

// Node is one step (or the start or end) as drawn.
type Node struct {
	ID    string
	Lines []string // first line: the step id
	Class string
}

// Edge is one transition.
type Edge struct {
	From, To, Label string
	// Alt marks a path off the main one: a decline, a failure.
	Alt bool
}

// Graph is a flow as drawn: nodes in file order, then edges.
type Graph struct {
	Title string
	Nodes []Node
	Edges []Edge
}

// NodeID is the id a step's node has in every format (in the SVG, the id of
// the step's group), so a page can find the current step.
func NodeID(step string) string { return "s_" + step }

const (
	// Not "start" and "end": end is a Mermaid keyword.
	startNode = "flow_start"
	endNode   = "flow_end"
)

// Build reads the steps from the compiled program (what runs); only
// branch conditions come from the flow file, as the program keeps them
// compiled.
func Build(p *compile.Program, f *flow.Flow) *Graph {
	g := &Graph{Title: fmt.Sprintf("%s (version %d)", p.ID(), p.Version())}
	id := func(i int) string {
		if i == compile.None {
			return endNode
		}
		return NodeID(p.StepAt(i).ID)
	}
	g.Nodes = append(g.Nodes, Node{ID: startNode, Lines: []string{"start"}, Class: classTerminal})
	g.Edges = append(g.Edges, Edge{From: startNode, To: id(p.Start())})
	declineFrom := map[int]bool{} // purposes whose decline edge is drawn
	for i := range p.NumSteps() {
		s := p.StepAt(i)
		n := Node{ID: id(i), Lines: []string{s.ID}}
		next := s.Next
		if s.End {
			next = compile.None
		}
		switch s.Kind {
		case compile.StepSay:
			n.Class = classSay
			n.Lines = append(n.Lines, "says a message")
			g.Edges = append(g.Edges, Edge{From: n.ID, To: id(next)})
		case compile.StepGoto:
			n.Class = classSay
			n.Lines = append(n.Lines, "goes on")
			g.Edges = append(g.Edges, Edge{From: n.ID, To: id(next)})
		case compile.StepAsk:
			n.Class = classAsk
			n.Lines = append(n.Lines, "asks")
			if s.Save != compile.None {
				fd := p.FieldAt(s.Save)
				pu := p.PurposeAt(fd.PurposeIndex)
				n.Lines = append(n.Lines, fmt.Sprintf("collects %s (%s)", fd.Name, fd.Type),
					fmt.Sprintf("for %s, basis %s, kept: %s", pu.Name, pu.Basis, retentionWords(fd.Retention)))
				if fd.Special != "" {
					n.Lines = append(n.Lines, "special category: "+fd.Special)
				}
				if pu.NeedsConsent {
					n.Class = classConsent
					if declineFrom[pu.Index] {
						n.Lines = append(n.Lines, "under consent for "+pu.Name)
					} else {
						n.Lines = append(n.Lines, "asks consent for "+pu.Name+" first")
						declineFrom[pu.Index] = true
						g.Edges = append(g.Edges, Edge{From: n.ID, To: id(pu.OnDecline), Label: "declines " + pu.Name, Alt: true})
					}
				}
			}
			// A menu option with next: goes there; the others, and an
			// answer to a question without options, go to the step's next.
			routed := 0
			for _, o := range s.Options {
				if o.Next != compile.None {
					routed++
					g.Edges = append(g.Edges, Edge{From: n.ID, To: id(o.Next), Label: o.ID})
				}
			}
			if routed < len(s.Options) || len(s.Options) == 0 {
				g.Edges = append(g.Edges, Edge{From: n.ID, To: id(next), Label: "answer"})
			}
			if s.OnFail != compile.None {
				g.Edges = append(g.Edges, Edge{From: n.ID, To: id(s.OnFail), Label: fmt.Sprintf("%d bad answers", s.Attempts), Alt: true})
			}
		case compile.StepBranch:
			n.Class = classBranch
			cond := "condition"
			if fs := f.StepByID(s.ID); fs != nil && fs.If.Value != "" {
				cond = fs.If.Value
			}
			n.Lines = append(n.Lines, "if "+cond)
			then, els := s.Then, s.Else
			if then == compile.None {
				then = next
			}
			if els == compile.None {
				els = next
			}
			g.Edges = append(g.Edges, Edge{From: n.ID, To: id(then), Label: "yes"}, Edge{From: n.ID, To: id(els), Label: "no"})
		case compile.StepCall:
			n.Class = classCall
			in := p.IntegrationAt(s.Integration)
			host := in.URL
			if u, err := url.Parse(in.URL); err == nil && u.Host != "" {
				host = u.Host
			}
			n.Lines = append(n.Lines, "calls "+in.Name+" at "+host, "sends "+strings.Join(in.SendNames, ", "), "for "+in.Purpose)
			g.Edges = append(g.Edges, Edge{From: n.ID, To: id(next), Label: "ok"})
			if s.OnFail != compile.None {
				g.Edges = append(g.Edges, Edge{From: n.ID, To: id(s.OnFail), Label: "fails", Alt: true})
			}
		case compile.StepHandoff:
			n.Class = classHandoff
			h := p.Handoff()
			wait := flow.Retention{Kind: flow.RetainFor, For: h.Timeout}.String()
			keep := flow.Retention{Kind: flow.RetainFor, For: h.TranscriptRetention}.String()
			n.Lines = append(n.Lines, "hands over to a person", "waits up to "+wait+", transcript kept: "+keep)
			// Nobody answered in time: the bot takes the conversation back.
			g.Edges = append(g.Edges, Edge{From: n.ID, To: id(h.OnTimeout), Label: "nobody answers in " + wait, Alt: true})
		case compile.StepForget:
			n.Class = classForget
			names := make([]string, len(s.Forget))
			for j, fi := range s.Forget {
				names[j] = p.FieldAt(fi).Name
			}
			n.Lines = append(n.Lines, "forgets "+strings.Join(names, ", "))
			g.Edges = append(g.Edges, Edge{From: n.ID, To: id(next)})
		case compile.StepWithdraw:
			n.Class = classForget
			n.Lines = append(n.Lines, "withdraws consent for "+p.PurposeAt(s.Purpose).Name)
			g.Edges = append(g.Edges, Edge{From: n.ID, To: id(next)})
		}
		g.Nodes = append(g.Nodes, n)
	}
	g.Nodes = append(g.Nodes, Node{ID: endNode, Lines: []string{"end"}, Class: classTerminal})
	return g
}

func retentionWords(r flow.Retention) string {
	switch r.Kind {
	case flow.RetainSession:
		return "until the conversation ends"
	case flow.RetainTransient:
		return "never (transient: not stored)"
	}
	return r.String()
}

// WriteMermaid writes a Mermaid flowchart.
func (g *Graph) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %s\n---\nflowchart TD\n", g.Title)
	for _, n := range g.Nodes {
		label := mermaidText(strings.Join(n.Lines, "\n"))
		label = strings.ReplaceAll(label, "\n", "<br/>")
		open, close := "[\"", "\"]"
		switch n.Class {
		case classTerminal:
			open, close = "([\"", "\"])"
		case classBranch:
			open, close = "{\"", "\"}"
		case classHandoff:
			open, close = "[[\"", "\"]]"
		}
		fmt.Fprintf(&b, "  %s%s%s%s:::%s\n", n.ID, open, label, close, n.Class)
	}
	for _, e := range g.Edges {
		arrow := "-->"
		if e.Alt {
			arrow = "-.->"
		}
		if e.Label != "" {
			fmt.Fprintf(&b, "  %s %s|\"%s\"| %s\n", e.From, arrow, mermaidText(e.Label), e.To)
			continue
		}
		fmt.Fprintf(&b, "  %s %s %s\n", e.From, arrow, e.To)
	}
	for _, cd := range classStyles {
		fmt.Fprintf(&b, "  classDef %s fill:%s,stroke:%s\n", cd.class, cd.fill, cd.stroke)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}

// classStyles colour the node classes alike in every format.
var classStyles = []struct{ class, fill, stroke string }{
	{classTerminal, "#eeeeee", "#666666"},
	{classSay, "#ffffff", "#666666"},
	{classAsk, "#e8f0fe", "#3366cc"},
	{classConsent, "#fff4e0", "#cc7a00"},
	{classBranch, "#f3e8fd", "#7a3db8"},
	{classCall, "#e6f4ea", "#1e8e3e"},
	{classHandoff, "#fde8e8", "#c5221f"},
	{classForget, "#fef7e0", "#b06000"},
}

func styleOf(class string) (fill, stroke string) {
	for _, cd := range classStyles {
		if cd.class == class {
			return cd.fill, cd.stroke
		}
	}
	return "#ffffff", "#666666"
}

// WriteDOT writes Graphviz DOT.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  label=%s;\n  labelloc=t;\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n", dotQuote("flow"), dotQuote(g.Title))
	for _, n := range g.Nodes {
		fill, stroke := styleOf(n.Class)
		shape := "box"
		switch n.Class {
		case classTerminal:
			shape = "oval"
		case classBranch:
			shape = "diamond"
		}
		fmt.Fprintf(&b, "  %s [label=%s, shape=%s, fillcolor=%s, color=%s];\n", dotQuote(n.ID), dotQuote(strings.Join(n.Lines, "\n")), shape, dotQuote(fill), dotQuote(stroke))
	}
	for _, e := range g.Edges {
		attrs := []string{}
		if e.Label != "" {
			attrs = append(attrs, "label="+dotQuote(e.Label))
		}
		if e.Alt {
			attrs = append(attrs, "style=dashed")
		}
		fmt.Fprintf(&b, "  %s -> %s", dotQuote(e.From), dotQuote(e.To))
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
