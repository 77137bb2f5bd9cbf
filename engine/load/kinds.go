package load

import (
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/flow"
)

// stepDecoders decode each step key (the keys of flow.StepKinds, next and
// end) into the Step; a test checks every key of the table has one.
var stepDecoders = map[string]func(l *loader, s *flow.Step, v *yaml.Node){
	"say":          func(l *loader, s *flow.Step, v *yaml.Node) { s.Say = l.text(v) },
	"ask":          func(l *loader, s *flow.Step, v *yaml.Node) { s.Ask = l.text(v) },
	"save":         func(l *loader, s *flow.Step, v *yaml.Node) { s.Save = l.scalar(v) },
	"options":      (*loader).options,
	"options_from": func(l *loader, s *flow.Step, v *yaml.Node) { s.OptionsFrom = l.scalar(v) },
	"retry":        func(l *loader, s *flow.Step, v *yaml.Node) { s.Retry = l.text(v) },
	"attempts":     func(l *loader, s *flow.Step, v *yaml.Node) { s.Attempts = l.intValue(v) },
	"on_fail":      func(l *loader, s *flow.Step, v *yaml.Node) { s.OnFail = l.scalar(v) },
	"if":           func(l *loader, s *flow.Step, v *yaml.Node) { s.If = l.scalar(v) },
	"then":         func(l *loader, s *flow.Step, v *yaml.Node) { s.Then = l.scalar(v) },
	"else":         func(l *loader, s *flow.Step, v *yaml.Node) { s.Else = l.scalar(v) },
	"call":         func(l *loader, s *flow.Step, v *yaml.Node) { s.Call = l.scalar(v) },
	"handoff":      func(l *loader, s *flow.Step, v *yaml.Node) { s.Handoff = l.text(v) },
	"forget":       func(l *loader, s *flow.Step, v *yaml.Node) { s.Forget = l.scalars(v) },
	"withdraw":     func(l *loader, s *flow.Step, v *yaml.Node) { s.Withdraw = l.scalar(v) },
	"remind":       func(l *loader, s *flow.Step, v *yaml.Node) { s.Remind = l.scalar(v) },
	"at":           func(l *loader, s *flow.Step, v *yaml.Node) { s.At = l.scalar(v) },
	"next":         func(l *loader, s *flow.Step, v *yaml.Node) { s.Next = l.scalar(v) },
	"end":          (*loader).end,
}

func (l *loader) options(s *flow.Step, v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		return
	}
	for _, c := range v.Content {
		if c.Kind != yaml.MappingNode {
			continue
		}
		o := &flow.Option{Range: l.src.nodeRange(c)}
		l.eachPair(c, func(k, v *yaml.Node) {
			switch k.Value {
			case "id":
				o.ID = l.scalar(v)
			case "title":
				o.Title = l.text(v)
			case "next":
				o.Next = l.scalar(v)
			}
		})
		s.Options = append(s.Options, o)
	}
}

func (l *loader) end(s *flow.Step, v *yaml.Node) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
		return
	}
	b, _ := strconv.ParseBool(v.Value)
	if v.Value == "True" || v.Value == "TRUE" {
		b = true
	}
	s.End = flow.Bool{Value: b, Range: l.src.nodeRange(v)}
}
