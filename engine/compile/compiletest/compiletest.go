// Package compiletest builds flow.Flow values from YAML for the tests of
// compile and runtime, with the positions and scalar styles the real loader
// records. It is deliberately lenient and checks nothing: it exists only
// until engine/load is available, and must not be used outside tests.
package compiletest

import (
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// Flow parses src as a flow file called name; it fails t on YAML errors.
func Flow(t testing.TB, name, src string) *flow.Flow {
	t.Helper()
	f, err := Parse(name, src)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return f
}

// Parse is Flow returning the YAML error instead of failing a test.
func Parse(name, src string) (*flow.Flow, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, err
	}
	b := builder{name: name}
	f := &flow.Flow{File: &flow.File{Name: name, Src: []byte(src)}}
	root := doc.Content[0]
	f.Range = b.rng(root)
	b.each(root, func(k, v *yaml.Node) {
		switch k.Value {
		case "parley":
			f.Spec = b.int(v)
		case "id":
			f.ID = b.scalar(v)
		case "version":
			f.Version = b.int(v)
		case "description":
			f.Description = b.scalar(v)
		case "languages":
			for _, l := range v.Content {
				f.Languages = append(f.Languages, b.scalar(l))
			}
		case "controller":
			c := &flow.Controller{Range: b.rng(v)}
			b.each(v, func(k, v *yaml.Node) {
				switch k.Value {
				case "name":
					c.Name = b.scalar(v)
				case "contact":
					c.Contact = b.scalar(v)
				case "privacy_url":
					c.PrivacyURL = b.scalar(v)
				}
			})
			f.Controller = c
		case "purposes":
			b.each(v, func(k, v *yaml.Node) {
				p := &flow.Purpose{Name: b.scalar(k), Range: b.rng(v)}
				b.each(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "basis":
						p.Basis = b.scalar(v)
					case "description":
						p.Description = b.text(v)
					case "on_decline":
						p.OnDecline = b.scalar(v)
					}
				})
				f.Purposes = append(f.Purposes, p)
			})
		case "fields":
			b.each(v, func(k, v *yaml.Node) {
				fd := &flow.Field{Name: b.scalar(k), Range: b.rng(v)}
				b.each(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "type":
						fd.Type = b.scalar(v)
					case "purpose":
						fd.Purpose = b.scalar(v)
					case "retention":
						fd.Retention = b.scalar(v)
					case "max_length":
						fd.MaxLength = b.int(v)
					case "min":
						fd.Min = b.num(v)
					case "max":
						fd.Max = b.num(v)
					case "special":
						fd.Special = b.scalar(v)
					case "label":
						fd.Label = b.text(v)
					}
				})
				f.Fields = append(f.Fields, fd)
			})
		case "integrations":
			b.each(v, func(k, v *yaml.Node) {
				in := &flow.Integration{Name: b.scalar(k), Range: b.rng(v)}
				b.each(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "url":
						in.URL = b.scalar(v)
					case "purpose":
						in.Purpose = b.scalar(v)
					case "sends":
						for _, s := range v.Content {
							in.Sends = append(in.Sends, b.scalar(s))
						}
					case "secret_env":
						in.SecretEnv = b.scalar(v)
					case "timeout":
						in.Timeout = b.scalar(v)
					}
				})
				f.Integrations = append(f.Integrations, in)
			})
		case "keywords":
			b.each(v, func(k, v *yaml.Node) {
				f.Keywords = append(f.Keywords, &flow.Keyword{Right: b.scalar(k), Words: b.text(v)})
			})
		case "start":
			f.Start = b.scalar(v)
		case "steps":
			b.each(v, func(k, v *yaml.Node) {
				s := &flow.Step{ID: b.scalar(k), Range: b.rng(v)}
				b.each(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "say":
						s.Say = b.text(v)
					case "ask":
						s.Ask = b.text(v)
					case "save":
						s.Save = b.scalar(v)
					case "options":
						for _, o := range v.Content {
							opt := &flow.Option{Range: b.rng(o)}
							b.each(o, func(k, v *yaml.Node) {
								switch k.Value {
								case "id":
									opt.ID = b.scalar(v)
								case "title":
									opt.Title = b.text(v)
								}
							})
							s.Options = append(s.Options, opt)
						}
					case "retry":
						s.Retry = b.text(v)
					case "attempts":
						s.Attempts = b.int(v)
					case "on_fail":
						s.OnFail = b.scalar(v)
					case "if":
						s.If = b.scalar(v)
					case "then":
						s.Then = b.scalar(v)
					case "else":
						s.Else = b.scalar(v)
					case "call":
						s.Call = b.scalar(v)
					case "handoff":
						s.Handoff = b.text(v)
					case "next":
						s.Next = b.scalar(v)
					case "end":
						s.End = flow.Bool{Value: v.Value == "true", Range: b.rng(v)}
					}
				})
				f.Steps = append(f.Steps, s)
			})
		}
	})
	return f, nil
}

type builder struct{ name string }

func (b builder) each(n *yaml.Node, fn func(k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fn(n.Content[i], n.Content[i+1])
	}
}

func (b builder) rng(n *yaml.Node) diag.Range {
	return diag.Range{Filename: b.name, Start: diag.Pos{Line: n.Line, Column: n.Column, Byte: -1}}
}

func (b builder) scalar(n *yaml.Node) flow.Scalar {
	s := flow.Scalar{Value: n.Value, Range: b.rng(n)}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		s.Style = flow.DoubleQuoted
	case n.Style&yaml.SingleQuotedStyle != 0:
		s.Style = flow.SingleQuoted
	case n.Style&yaml.LiteralStyle != 0:
		s.Style = flow.Literal
	case n.Style&yaml.FoldedStyle != 0:
		s.Style = flow.Folded
	}
	return s
}

func (b builder) int(n *yaml.Node) flow.Int {
	v, _ := strconv.Atoi(n.Value)
	return flow.Int{Value: v, Range: b.rng(n)}
}

func (b builder) num(n *yaml.Node) flow.Number {
	v, _ := strconv.ParseFloat(n.Value, 64)
	return flow.Number{Value: v, Range: b.rng(n)}
}

func (b builder) text(n *yaml.Node) *flow.Text {
	t := &flow.Text{Range: b.rng(n)}
	if n.Kind == yaml.ScalarNode {
		t.Plain = b.scalar(n)
		return t
	}
	b.each(n, func(k, v *yaml.Node) {
		t.ByLang = append(t.ByLang, flow.LangText{Lang: b.scalar(k), Value: b.scalar(v)})
	})
	return t
}
