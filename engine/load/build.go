package load

import (
	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/flow"
)

// build turns the checked node tree into the AST. It is tolerant: a value
// of the wrong kind is left unset (the schema has reported it) and the rest
// is still built, so later stages can find more problems in the same run.
func (l *loader) build(root *yaml.Node) *flow.Flow {
	f := &flow.Flow{
		File:  &flow.File{Name: l.src.name, Src: l.src.src},
		Range: l.src.nodeRange(root),
	}
	l.eachPair(root, func(k, v *yaml.Node) {
		switch k.Value {
		case "parley":
			f.Spec = l.intValue(v)
		case "id":
			f.ID = l.scalar(v)
		case "version":
			f.Version = l.intValue(v)
		case "description":
			f.Description = l.scalar(v)
		case "conversation_retention":
			f.ConversationRetention = l.scalar(v)
		case "on_handoff_timeout":
			f.OnHandoffTimeout = l.scalar(v)
		case "handoff":
			if v.Kind == yaml.MappingNode {
				h := &flow.HandoffSettings{Range: l.src.nodeRange(v)}
				l.eachPair(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "timeout":
						h.Timeout = l.scalar(v)
					case "transcript_retention":
						h.TranscriptRetention = l.scalar(v)
					case "notify":
						h.Notify = l.scalar(v)
					}
				})
				f.Handoff = h
			}
		case "languages":
			if v.Kind == yaml.SequenceNode {
				for _, c := range v.Content {
					if s := l.scalar(c); s.IsSet() {
						f.Languages = append(f.Languages, s)
					}
				}
			}
		case "controller":
			if v.Kind == yaml.MappingNode {
				c := &flow.Controller{Range: l.src.nodeRange(v)}
				l.eachPair(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "name":
						c.Name = l.scalar(v)
					case "contact":
						c.Contact = l.scalar(v)
					case "privacy_url":
						c.PrivacyURL = l.scalar(v)
					case "transfers_outside_eu":
						c.TransfersOutsideEU = l.scalar(v)
					}
				})
				f.Controller = c
			}
		case "whatsapp":
			if v.Kind == yaml.MappingNode {
				w := &flow.WhatsApp{Range: l.src.nodeRange(v)}
				l.eachPair(v, func(k, v *yaml.Node) {
					if k.Value != "outside_window" || v.Kind != yaml.MappingNode {
						return
					}
					t := &flow.Template{Range: l.src.nodeRange(v)}
					l.eachPair(v, func(k, v *yaml.Node) {
						switch k.Value {
						case "template":
							t.Name = l.scalar(v)
						case "language":
							t.Language = l.scalar(v)
						}
					})
					w.OutsideWindow = t
				})
				f.WhatsApp = w
			}
		case "templates":
			l.eachEntry(v, func(name flow.Scalar, v *yaml.Node) {
				t := &flow.MessageTemplate{Key: name, Range: l.src.nodeRange(v)}
				l.eachPair(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "name":
						t.Name = l.scalar(v)
					case "language":
						t.Language = l.scalar(v)
					case "category":
						t.Category = l.scalar(v)
					case "purpose":
						t.Purpose = l.scalar(v)
					case "params":
						if v.Kind == yaml.SequenceNode {
							t.Params = l.scalars(v)
						}
					}
				})
				f.Templates = append(f.Templates, t)
			})
		case "purposes":
			l.eachEntry(v, func(name flow.Scalar, v *yaml.Node) {
				p := &flow.Purpose{Name: name, Range: l.src.nodeRange(v)}
				l.eachPair(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "basis":
						p.Basis = l.scalar(v)
					case "description":
						p.Description = l.text(v)
					case "on_decline":
						p.OnDecline = l.scalar(v)
					}
				})
				f.Purposes = append(f.Purposes, p)
			})
		case "fields":
			l.eachEntry(v, func(name flow.Scalar, v *yaml.Node) {
				fd := &flow.Field{Name: name, Range: l.src.nodeRange(v)}
				l.eachPair(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "type":
						fd.Type = l.scalar(v)
					case "purpose":
						fd.Purpose = l.scalar(v)
					case "retention":
						fd.Retention = l.scalar(v)
					case "max_length":
						fd.MaxLength = l.intValue(v)
					case "min":
						fd.Min = l.number(v)
					case "max":
						fd.Max = l.number(v)
					case "special":
						fd.Special = l.scalar(v)
					case "label":
						fd.Label = l.text(v)
					case "date_order":
						fd.DateOrder = l.scalar(v)
					case "length":
						fd.Length = l.intValue(v)
					case "min_length":
						fd.MinLength = l.intValue(v)
					case "pattern":
						fd.Pattern = l.scalar(v)
					case "pattern_message":
						fd.PatternMessage = l.text(v)
					}
				})
				f.Fields = append(f.Fields, fd)
			})
		case "integrations":
			l.eachEntry(v, func(name flow.Scalar, v *yaml.Node) {
				in := &flow.Integration{Name: name, Range: l.src.nodeRange(v)}
				l.eachPair(v, func(k, v *yaml.Node) {
					switch k.Value {
					case "url":
						in.URL = l.scalar(v)
					case "purpose":
						in.Purpose = l.scalar(v)
					case "sends":
						if v.Kind == yaml.SequenceNode {
							in.Sends = l.scalars(v)
						}
					case "receives":
						if v.Kind == yaml.SequenceNode {
							in.Receives = l.scalars(v)
						}
					case "receives_options":
						in.ReceivesOptions = l.scalar(v)
					case "secret_env":
						in.SecretEnv = l.scalar(v)
					case "timeout":
						in.Timeout = l.scalar(v)
					case "on_erase":
						in.OnErase = l.scalar(v)
					case "on_stop":
						in.OnStop = l.scalar(v)
					case "recipient":
						in.Recipient = l.scalar(v)
					}
				})
				f.Integrations = append(f.Integrations, in)
			})
		case "keywords":
			l.eachPair(v, func(k, v *yaml.Node) {
				if t := l.text(v); t != nil {
					f.Keywords = append(f.Keywords, &flow.Keyword{Right: l.scalar(k), Words: t})
				}
			})
		case "start":
			f.Start = l.scalar(v)
		case "steps":
			l.eachEntry(v, func(id flow.Scalar, v *yaml.Node) {
				f.Steps = append(f.Steps, l.step(id, v))
			})
		}
	})
	return f
}

func (l *loader) step(id flow.Scalar, v *yaml.Node) *flow.Step {
	s := &flow.Step{ID: id, Range: l.src.nodeRange(v)}
	l.eachPair(v, func(k, v *yaml.Node) {
		s.Keys = append(s.Keys, k.Value)
		if decode := stepDecoders[k.Value]; decode != nil {
			decode(l, s, v)
		}
	})
	s.Kinds = flow.KindsOf(s.Keys)
	return s
}

// scalars returns the text items of a list (a single text counts as a list
// of one).
func (l *loader) scalars(n *yaml.Node) []flow.Scalar {
	if n.Kind != yaml.SequenceNode {
		if s := l.scalar(n); s.IsSet() {
			return []flow.Scalar{s}
		}
		return nil
	}
	var out []flow.Scalar
	for _, c := range n.Content {
		if s := l.scalar(c); s.IsSet() {
			out = append(out, s)
		}
	}
	return out
}

// eachPair calls fn for every well-formed key of mapping m, first
// occurrence only (a duplicate has been reported).
func (l *loader) eachPair(m *yaml.Node, fn func(k, v *yaml.Node)) {
	if m.Kind != yaml.MappingNode {
		return
	}
	seen := make(map[string]bool, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || seen[k.Value] || v.Kind == yaml.AliasNode {
			continue
		}
		seen[k.Value] = true
		fn(k, v)
	}
}

// eachEntry is eachPair for a named section (steps:, fields:, …): the key
// becomes a Scalar with its position, and only block values are passed on.
func (l *loader) eachEntry(m *yaml.Node, fn func(name flow.Scalar, v *yaml.Node)) {
	l.eachPair(m, func(k, v *yaml.Node) {
		if v.Kind == yaml.MappingNode {
			fn(l.scalar(k), v)
		}
	})
}

// scalar returns a text value with its position, or the zero Scalar when n
// is not text.
func (l *loader) scalar(n *yaml.Node) flow.Scalar {
	if n.Kind != yaml.ScalarNode {
		return flow.Scalar{}
	}
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
	default:
		return flow.Scalar{}
	}
	return flow.Scalar{Value: n.Value, Range: l.src.nodeRange(n), Style: style(n)}
}

func (l *loader) intValue(n *yaml.Node) flow.Int {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return flow.Int{}
	}
	var v int
	if err := n.Decode(&v); err != nil {
		return flow.Int{}
	}
	return flow.Int{Value: v, Range: l.src.nodeRange(n)}
}

func (l *loader) number(n *yaml.Node) flow.Number {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		return flow.Number{}
	}
	var v float64
	if err := n.Decode(&v); err != nil || v != v || v > 1e308 || v < -1e308 {
		return flow.Number{}
	}
	return flow.Number{Value: v, Range: l.src.nodeRange(n)}
}

// text builds a Text from a string or a language → string mapping.
func (l *loader) text(n *yaml.Node) *flow.Text {
	switch n.Kind {
	case yaml.ScalarNode:
		if s := l.scalar(n); s.IsSet() {
			return &flow.Text{Range: s.Range, Plain: s}
		}
	case yaml.MappingNode:
		t := &flow.Text{Range: l.src.nodeRange(n)}
		l.eachPair(n, func(k, v *yaml.Node) {
			if s := l.scalar(v); s.IsSet() {
				t.ByLang = append(t.ByLang, flow.LangText{Lang: l.scalar(k), Value: s})
			}
		})
		return t
	}
	// A text of the wrong kind has been reported; keep an empty Text so
	// later stages still see that the key was written.
	return &flow.Text{Range: l.src.nodeRange(n)}
}
