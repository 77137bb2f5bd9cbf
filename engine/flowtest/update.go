package flowtest

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"
)

// Update returns the test file with the replies the flow actually sent
// written into every send: and choose: item whose replies did not match or
// were missing, as exact texts. Everything else (comments, order, the other
// items) stays: it edits the parsed node tree and writes it back. changed
// reports whether any item was rewritten.
func Update(res *Result) (out []byte, changed bool, err error) {
	for _, c := range res.File.Cases {
		for _, s := range c.Steps {
			got, ran := res.Actual[s]
			if !ran || (s.HasReplies && !res.Failed[s]) {
				continue
			}
			setReplies(s.node, got)
			changed = true
		}
	}
	if !changed {
		return res.File.Src, false, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(res.File.root); err != nil {
		return nil, false, err
	}
	if err := enc.Close(); err != nil {
		return nil, false, err
	}
	return b.Bytes(), true, nil
}

func setReplies(m *yaml.Node, got []string) {
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
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "replies" {
			m.Content[i+1] = seq
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "replies"}, seq)
}
