package flowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/diag"
)

// File is one parsed test file (*_test.yaml).
type File struct {
	Name string
	Src  []byte
	// Flow is the flow under test, as written (relative to the test file).
	Flow      string
	FlowRange diag.Range
	Cases     []*Case
	root      *yaml.Node
}

// Case is one conversation.
type Case struct {
	Name  string
	Range diag.Range
	// User is CHANNEL:ID (default test:customer); Lang picks the language
	// of a new conversation; Start is the clock at the first message.
	User  string
	Lang  string
	Start time.Time
	// FailCalls makes every integration call fail (calls: fail), to test
	// on_fail paths.
	FailCalls bool
	// Answers script what integrations answer (answers:): integration
	// name to field to value, as the integration's JSON would hold it.
	Answers map[string]map[string]string
	Steps   []*Step
}

// Step is one item of a conversation: a customer message (Send or Choose)
// with the replies expected, a jump of the clock (After), or an expectation
// about what the store holds (Vault).
type Step struct {
	Range  diag.Range
	Send   string
	Choose string
	// IsMessage is set for send: and choose: items.
	IsMessage bool
	After     time.Duration
	// Replies, when HasReplies, are the replies expected, all of them in
	// order. Without replies: the replies are not checked (parley test
	// --update writes them in).
	Replies      []Reply
	HasReplies   bool
	RepliesRange diag.Range
	Vault        *VaultExpect
	node         *yaml.Node
}

// Reply is one expected bot message: exactly Text, or containing Contains,
// or matching Regex.
type Reply struct {
	Exact    string
	Contains string
	Regex    *regexp.Regexp
	IsExact  bool
	Range    diag.Range
}

// Describe says what the reply expects, for a diff.
func (r Reply) Describe() string {
	switch {
	case r.IsExact:
		return r.Exact
	case r.Regex != nil:
		return "(matching " + r.Regex.String() + ")"
	}
	return "(containing " + strconv.Quote(r.Contains) + ")"
}

// Match reports whether got (a Render'ed message) is what r expects.
func (r Reply) Match(got string) bool {
	switch {
	case r.IsExact:
		return got == r.Exact
	case r.Regex != nil:
		return r.Regex.MatchString(got)
	}
	return strings.Contains(got, r.Contains)
}

// VaultExpect is what the store must hold at that point: the fields held
// (exactly these, when HasFields), the consent decisions per purpose
// (granted, declined or withdrawn), and whether the conversation itself is
// still kept ("kept" or "gone").
type VaultExpect struct {
	Range        diag.Range
	Fields       []string
	HasFields    bool
	FieldsRange  diag.Range
	Consents     map[string]string
	ConsentRange map[string]diag.Range
	Conversation string
	ConvRange    diag.Range
	// Reminders are the reminders scheduled, as "TEMPLATE at TIME" (RFC
	// 3339, UTC), exactly these when HasReminders.
	Reminders      []string
	HasReminders   bool
	RemindersRange diag.Range
}

// DefaultStart is the clock of a case's first message when it names no
// start: a fixed time, so replies that show dates are the same every run.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// MaxFileSize bounds a test file, like a flow file.
const MaxFileSize = 1 << 20

type parser struct {
	f  *File
	ds diag.Diagnostics
}

// Parse reads a test file. Problems in its shape are diagnostics
// (PARLEY-701) pointing at the key or value at fault; the File is nil when
// nothing could be read.
func Parse(name string, src []byte) (*File, diag.Diagnostics) {
	p := &parser{f: &File{Name: name, Src: src}}
	if len(src) > MaxFileSize {
		p.add(diag.Range{Filename: name, Start: diag.Pos{Line: 1, Column: 1}}, "the test file is larger than 1 MiB; split it into several files")
		return nil, p.ds
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		line := 1
		if m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		p.ds.Add(diag.YAMLSyntax, diag.Range{Filename: name, Start: diag.Pos{Line: line, Column: 1}}, "the test file is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, p.ds
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		p.add(diag.Range{Filename: name, Start: diag.Pos{Line: 1, Column: 1}}, "a flow test starts with flow: (the flow file it tests) and tests: (the conversations)")
		return nil, p.ds
	}
	root := doc.Content[0]
	p.f.root = &doc
	var hasFlow, hasTests bool
	p.pairs(root, func(k, v *yaml.Node) {
		switch k.Value {
		case "flow":
			hasFlow = true
			p.f.Flow, p.f.FlowRange = p.text(v), p.rng(v)
		case "tests":
			hasTests = true
			if v.Kind != yaml.SequenceNode {
				p.add(p.rng(v), "tests: is a list of conversations, each starting with - name:")
				return
			}
			for _, c := range v.Content {
				if tc := p.testCase(c); tc != nil {
					p.f.Cases = append(p.f.Cases, tc)
				}
			}
		default:
			p.unknown(k, "flow", "tests")
		}
	})
	if !hasFlow {
		p.add(p.rng(root), "missing flow: name the flow file this test is for, for example flow: booking.yaml")
	}
	if !hasTests {
		p.add(p.rng(root), "missing tests: add a list of conversations under tests:")
	}
	return p.f, p.ds
}

func (p *parser) add(r diag.Range, format string, args ...any) {
	p.ds.Add(diag.FlowTestInvalid, r, format, args...)
}

func (p *parser) rng(n *yaml.Node) diag.Range {
	r := diag.Range{Filename: p.f.Name, Start: diag.Pos{Line: n.Line, Column: n.Column, Byte: -1}}
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 && !strings.Contains(n.Value, "\n") {
		w := utf8.RuneCountInString(n.Value)
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			w += 2
		}
		r.End = diag.Pos{Line: n.Line, Column: n.Column + w, Byte: -1}
	}
	return r
}

// pairs calls fn for each key and value of mapping m, reporting a key that
// appears twice.
func (p *parser) pairs(m *yaml.Node, fn func(k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if seen[k.Value] {
			p.add(p.rng(k), "%s: appears twice here; keep one", k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k, v)
	}
}

// answers reads a case's answers: a mapping of integration names, each a
// mapping of field names to the value the integration answers.
func (p *parser) answers(n *yaml.Node) map[string]map[string]string {
	const usage = "answers: maps an integration to what it answers, such as answers: {mailer: {sent_code: \"482913\"}}"
	if n.Kind != yaml.MappingNode {
		p.add(p.rng(n), usage)
		return nil
	}
	out := map[string]map[string]string{}
	p.pairs(n, func(k, v *yaml.Node) {
		if v.Kind != yaml.MappingNode {
			p.add(p.rng(v), usage)
			return
		}
		fields := map[string]string{}
		p.pairs(v, func(fk, fv *yaml.Node) {
			if fv.Kind == yaml.SequenceNode {
				if list, ok := p.optionList(fv); ok {
					fields[fk.Value] = list
				}
				return
			}
			if fv.Kind != yaml.ScalarNode {
				p.add(p.rng(fv), "answers: the value of %s is one text, number, date or yes/no, or a list of options", fk.Value)
				return
			}
			fields[fk.Value] = fv.Value
		})
		out[k.Value] = fields
	})
	return out
}

func (p *parser) unknown(k *yaml.Node, valid ...string) {
	msg := fmt.Sprintf("unknown key %q here; use %s", k.Value, strings.Join(valid, ", "))
	if s := diag.Suggest(k.Value, valid); s != "" {
		msg = fmt.Sprintf("unknown key %q here; did you mean %q?", k.Value, s)
	}
	p.add(p.rng(k), "%s", msg)
}

func (p *parser) text(v *yaml.Node) string {
	if v.Kind != yaml.ScalarNode {
		p.add(p.rng(v), "expected text here")
		return ""
	}
	return v.Value
}

func (p *parser) testCase(n *yaml.Node) *Case {
	if n.Kind != yaml.MappingNode {
		p.add(p.rng(n), "each test is a block starting with name:, then conversation:")
		return nil
	}
	c := &Case{Range: p.rng(n), User: "test:customer", Start: DefaultStart}
	var hasConv bool
	p.pairs(n, func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			c.Name = p.text(v)
			c.Range = p.rng(v)
		case "user":
			c.User = p.text(v)
			if ch, id, ok := strings.Cut(c.User, ":"); !ok || ch == "" || id == "" {
				p.add(p.rng(v), "user: must look like CHANNEL:ID, for example test:ada")
			}
		case "lang":
			c.Lang = p.text(v)
		case "start":
			t, err := time.Parse(time.RFC3339, p.text(v))
			if err != nil || t.Year() < 2000 || t.After(LatestClock) {
				p.add(p.rng(v), "start: must be an RFC 3339 time between 2000 and 2200, such as 2026-01-05T09:00:00Z")
			}
			c.Start = t
		case "calls":
			switch p.text(v) {
			case "ok":
			case "fail":
				c.FailCalls = true
			default:
				p.add(p.rng(v), "calls: must be ok or fail")
			}
		case "answers":
			c.Answers = p.answers(v)
		case "conversation":
			hasConv = true
			if v.Kind != yaml.SequenceNode {
				p.add(p.rng(v), "conversation: is a list of - send:, - choose:, - after: and - vault: items")
				return
			}
			for _, s := range v.Content {
				if st := p.step(s); st != nil {
					c.Steps = append(c.Steps, st)
				}
			}
		default:
			p.unknown(k, "name", "user", "lang", "start", "calls", "answers", "conversation")
		}
	})
	if c.Name == "" {
		p.add(p.rng(n), "this test has no name: add name: and a few words saying what it checks")
	}
	if !hasConv {
		p.add(p.rng(n), "this test has no conversation: add conversation: with - send: items")
	}
	return c
}

func (p *parser) step(n *yaml.Node) *Step {
	if n.Kind != yaml.MappingNode {
		p.add(p.rng(n), "each conversation item is a block: - send: hi, - choose: OPTION-ID, - after: 31d or - vault:")
		return nil
	}
	s := &Step{Range: p.rng(n), node: n}
	kinds, unknown := 0, 0
	p.pairs(n, func(k, v *yaml.Node) {
		switch k.Value {
		case "send":
			kinds++
			s.IsMessage, s.Send = true, p.text(v)
		case "choose":
			kinds++
			s.IsMessage, s.Choose = true, p.text(v)
			if s.Choose == "" {
				p.add(p.rng(v), "choose: names the id of an option, for example choose: mon")
			}
		case "after":
			kinds++
			d, err := ParseDuration(p.text(v))
			if err != nil {
				p.add(p.rng(v), "after: %v", err)
			}
			s.After = d
		case "vault":
			kinds++
			s.Vault = p.vault(v)
		case "replies":
			s.HasReplies, s.RepliesRange = true, p.rng(k)
			s.Replies = p.replies(v)
		default:
			unknown++
			p.unknown(k, "send", "choose", "after", "vault", "replies")
		}
	})
	switch {
	case kinds == 0 && unknown == 0:
		// (A misspelt send: is reported once, as the unknown key.)
		p.add(p.rng(n), "this item does nothing: use send:, choose:, after: or vault:")
	case kinds > 1:
		p.add(p.rng(n), "one thing per item: split send:, choose:, after: and vault: into separate - items")
	case s.HasReplies && !s.IsMessage:
		p.add(s.RepliesRange, "replies: belongs to a send: or choose: item")
	}
	return s
}

func (p *parser) replies(v *yaml.Node) []Reply {
	if v.Kind != yaml.SequenceNode {
		p.add(p.rng(v), "replies: is a list, one - item per bot message (use replies: [] for none)")
		return nil
	}
	var out []Reply
	for _, r := range v.Content {
		rep := Reply{Range: p.rng(r)}
		switch r.Kind {
		case yaml.ScalarNode:
			rep.Exact, rep.IsExact = r.Value, true
		case yaml.MappingNode:
			p.pairs(r, func(k, v *yaml.Node) {
				switch k.Value {
				case "contains":
					rep.Contains = p.text(v)
				case "regex":
					re, err := regexp.Compile(p.text(v))
					if err != nil {
						p.add(p.rng(v), "regex: is not a valid regular expression: %v", err)
						return
					}
					rep.Regex = re
				default:
					p.unknown(k, "contains", "regex")
				}
			})
			if len(r.Content) != 2 {
				p.add(p.rng(r), "a reply is the exact text, or one of contains: or regex:")
			}
		default:
			p.add(p.rng(r), "a reply is the exact text, or one of contains: or regex:")
		}
		out = append(out, rep)
	}
	return out
}

var consentWords = []string{"granted", "declined", "withdrawn"}

func (p *parser) vault(v *yaml.Node) *VaultExpect {
	ve := &VaultExpect{Range: p.rng(v), ConsentRange: map[string]diag.Range{}}
	if v.Kind != yaml.MappingNode {
		p.add(p.rng(v), "vault: is a block with fields:, consents: and conversation:")
		return ve
	}
	p.pairs(v, func(k, v *yaml.Node) {
		switch k.Value {
		case "fields":
			ve.HasFields, ve.FieldsRange = true, p.rng(k)
			if v.Kind != yaml.SequenceNode {
				p.add(p.rng(v), "fields: is the list of field names held, for example [name, email] ([] for none)")
				return
			}
			for _, f := range v.Content {
				ve.Fields = append(ve.Fields, p.text(f))
			}
		case "consents":
			if v.Kind != yaml.MappingNode {
				p.add(p.rng(v), "consents: maps purposes to granted, declined or withdrawn")
				return
			}
			ve.Consents = map[string]string{}
			p.pairs(v, func(pk, pv *yaml.Node) {
				d := p.text(pv)
				ok := false
				for _, w := range consentWords {
					ok = ok || d == w
				}
				if !ok {
					p.add(p.rng(pv), "a consent is granted, declined or withdrawn")
				}
				ve.Consents[pk.Value] = d
				ve.ConsentRange[pk.Value] = p.rng(pk)
			})
		case "reminders":
			ve.HasReminders, ve.RemindersRange = true, p.rng(k)
			if v.Kind != yaml.SequenceNode {
				p.add(p.rng(v), "reminders: is the list of reminders scheduled, for example [appointment_reminder at 2026-05-05T09:00:00Z] ([] for none)")
				return
			}
			for _, r := range v.Content {
				ve.Reminders = append(ve.Reminders, p.text(r))
			}
		case "conversation":
			ve.Conversation, ve.ConvRange = p.text(v), p.rng(v)
			if ve.Conversation != "kept" && ve.Conversation != "gone" {
				p.add(p.rng(v), "conversation: is kept or gone")
			}
		default:
			p.unknown(k, "fields", "consents", "conversation", "reminders")
		}
	})
	return ve
}

const maxJump = 36600 * 24 * time.Hour

var durationRe = regexp.MustCompile(`^(\d+)(y|w|d|h|m|s)$`)

// ParseDuration reads a time jump as authors write retention: 1y (365
// days), 8w, 31d, 12h, 30m, and also 10s.
func ParseDuration(s string) (time.Duration, error) {
	m := durationRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a time span: write a number and a unit, such as 1y, 8w, 31d, 12h, 30m or 10s", s)
	}
	unit := map[string]time.Duration{"y": 365 * 24 * time.Hour, "w": 7 * 24 * time.Hour, "d": 24 * time.Hour,
		"h": time.Hour, "m": time.Minute, "s": time.Second}[m[2]]
	n, err := strconv.Atoi(m[1])
	if err != nil || time.Duration(n) > maxJump/unit {
		return 0, fmt.Errorf("%q is too long a jump: at most 36600d", s)
	}
	return time.Duration(n) * unit, nil
}

// optionList reads a scripted list of options (the answer of an
// integration with receives_options:), such as [{id: mon9, title: "Mon
// 9:00"}], into the JSON text the integration would answer; the runtime
// checks it as it checks a real answer.
func (p *parser) optionList(n *yaml.Node) (string, bool) {
	const usage = "answers: a list of options is a list of {id, title}, such as [{id: mon9, title: \"Mon 9:00\"}]"
	type option struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	list := []option{}
	for _, item := range n.Content {
		var o option
		if item.Kind != yaml.MappingNode || item.Decode(&o) != nil || o.ID == "" || o.Title == "" {
			p.add(p.rng(item), usage)
			return "", false
		}
		list = append(list, o)
	}
	b, err := json.Marshal(list)
	return string(b), err == nil
}
