package flowtest

import (
	"bytes"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Update returns the test file with the replies the flow actually sent
// written into every send: and choose: item whose replies did not match or
// were missing, as exact texts. Only those replies: blocks change: the
// rest of the file (comments, blank lines, order, the author's own layout)
// is kept byte for byte. An item written in flow style ({ send: hi }) is
// the exception: then the whole file is written back from its node tree,
// which keeps comments and order but not blank lines. changed reports
// whether any item was rewritten.
func Update(res *Result) (out []byte, changed bool, err error) {
	var todo []*Step
	for _, c := range res.File.Cases {
		for _, s := range c.Steps {
			if _, ran := res.Actual[s]; ran && (!s.HasReplies || res.Failed[s]) {
				todo = append(todo, s)
			}
		}
	}
	if len(todo) == 0 {
		return res.File.Src, false, nil
	}
	// Bottom up, so the lines of the items still to do do not move.
	sort.Slice(todo, func(i, j int) bool { return todo[i].node.Line > todo[j].node.Line })
	lines := strings.SplitAfter(string(res.File.Src), "\n")
	for _, s := range todo {
		var ok bool
		if lines, ok = splice(lines, s, res.Actual[s]); !ok {
			return encodeTree(res, todo)
		}
	}
	return []byte(strings.Join(lines, "")), true, nil
}

// splice replaces (or adds) the replies: block of one block-style item.
func splice(lines []string, s *Step, got []string) ([]string, bool) {
	n := s.node
	if n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
		return nil, false
	}
	indent := n.Content[0].Column - 1 // the column of the item's keys
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Column-1 != indent {
			return nil, false
		}
	}
	start := n.Line - 1
	if start < 0 || start >= len(lines) {
		return nil, false
	}
	// The item runs until a line indented less than its keys.
	end := start + 1
	for end < len(lines) && (blank(lines[end]) || indentOf(lines[end]) >= indent) {
		end++
	}
	for end > start+1 && (blank(lines[end-1]) || isComment(lines[end-1]) && indentOf(lines[end-1]) <= indent) {
		end--
	}
	from, to := end, end // no replies yet: add them at the end of the item
	prefix := strings.Repeat(" ", indent)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "replies" {
			continue
		}
		from = n.Content[i].Line - 1
		if from < start || from >= end || len(lines[from]) < indent {
			return nil, false
		}
		prefix = lines[from][:indent] // "- " when replies: is the item's first key
		to = from + 1
		for to < end && (blank(lines[to]) || indentOf(lines[to]) > indent) {
			to++
		}
		for to > from+1 && blank(lines[to-1]) {
			to--
		}
	}
	block, err := renderReplies(got)
	if err != nil {
		return nil, false
	}
	var repl []string
	for i, l := range strings.SplitAfter(strings.TrimSuffix(block, "\n"), "\n") {
		p := strings.Repeat(" ", indent)
		if i == 0 {
			p = prefix
		}
		if strings.TrimSpace(l) == "" {
			p = ""
		}
		repl = append(repl, p+strings.TrimSuffix(l, "\n")+"\n")
	}
	if from == to && from > 0 && !strings.HasSuffix(lines[from-1], "\n") {
		lines[from-1] += "\n" // the item ended the file without a newline
	}
	out := make([]string, 0, len(lines)+len(repl))
	out = append(out, lines[:from]...)
	out = append(out, repl...)
	out = append(out, lines[to:]...)
	return out, true
}

func blank(l string) bool { return strings.TrimSpace(l) == "" }

func isComment(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "#") }

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// renderReplies writes "replies:" and the list of exact texts, as YAML
// with two-space indentation (multi-line replies as literal blocks).
func renderReplies(got []string) (string, error) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "replies"}, repliesNode(got)}
	b, err := encodeYAML(m)
	return string(b), err
}

// encodeYAML writes n with two-space indentation.
func encodeYAML(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func repliesNode(got []string) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	if len(got) == 0 {
		seq.Style = yaml.FlowStyle
	}
	for _, g := range got {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: g}
		if strings.Contains(g, "\n") {
			n.Style = yaml.LiteralStyle
		}
		seq.Content = append(seq.Content, n)
	}
	return seq
}

// encodeTree is Update's fallback: set the replies in the node tree and
// write the whole file back.
func encodeTree(res *Result, todo []*Step) ([]byte, bool, error) {
	for _, s := range todo {
		setReplies(s.node, res.Actual[s])
	}
	b, err := encodeYAML(res.File.root)
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func setReplies(m *yaml.Node, got []string) {
	seq := repliesNode(got)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "replies" {
			m.Content[i+1] = seq
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "replies"}, seq)
}
