package lint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
	"github.com/parleyhq/parley/schemas"
)

// PolicyFile is the name of the policy file lint looks for in the directory
// of each linted flow and every directory above it.
const PolicyFile = ".parley.yaml"

// Policy is what an organisation allows its flows: the longest retention per
// legal basis and per special category, the domains links and integrations
// may point at, and rule severities.
type Policy struct {
	// Path is the policy file read, or "" for the defaults.
	Path string
	// MaxRetention is the longest retention per legal basis.
	MaxRetention map[string]time.Duration
	// MaxSpecial is the longest retention per special category.
	MaxSpecial map[string]time.Duration
	// LinkDomains and IntegrationDomains list the allowed domains (and their
	// subdomains); nil allows any domain.
	LinkDomains, IntegrationDomains []string
	// Severity overrides a rule's default severity; Off drops the rule.
	Severity map[diag.RuleID]Severity
}

// Severity is a rule severity set by a policy, or Off.
type Severity struct {
	Off   bool
	Level diag.Severity
}

const (
	day  = 24 * time.Hour
	year = 365 * day
)

// DefaultPolicy is the policy used when no .parley.yaml is found: two years
// for consent and legitimate interests, ten for contract, legal obligation
// and public task (bookkeeping and statutory limitation periods), one for
// vital interests, and 180 days for every special category. Any link and
// integration domain is allowed.
func DefaultPolicy() *Policy {
	p := &Policy{
		MaxRetention: map[string]time.Duration{
			flow.BasisConsent: 2 * year, flow.BasisLegitimateInterests: 2 * year,
			flow.BasisContract: 10 * year, flow.BasisLegalObligation: 10 * year, flow.BasisPublicTask: 10 * year,
			flow.BasisVitalInterests: year,
		},
		MaxSpecial: map[string]time.Duration{},
		Severity:   map[diag.RuleID]Severity{},
	}
	for _, c := range specialCategories {
		p.MaxSpecial[c] = 180 * day
	}
	return p
}

// specialCategories are the special categories of GDPR art. 9 and 10, as the
// flow schema's enum for special lists them.
var specialCategories = []string{"health", "religion", "ethnicity", "politics", "sexual_orientation", "biometric", "genetic", "trade_union", "criminal"}

// FindPolicy returns the path of the nearest policy file at or above dir,
// or "" when there is none. The search stops at the root of a repository
// (a directory holding .git), so a policy outside the project never applies.
func FindPolicy(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find policy above %s: %w", dir, err)
	}
	for {
		p := filepath.Join(dir, PolicyFile)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("find policy: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return "", nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", nil
		}
		dir = up
	}
}

// ParsePolicy reads a policy from src. Every mistake is a diagnostic at its
// line and column in name; keys with mistakes keep their default values.
func ParsePolicy(name string, src []byte) (*Policy, diag.Diagnostics) {
	p := DefaultPolicy()
	p.Path = name
	var ds diag.Diagnostics
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		ds.Add(diag.InvalidPolicy, diag.Range{Filename: name, Start: diag.Pos{Line: yamlErrLine(err), Column: 1, Byte: -1}},
			"the policy file is not valid YAML (%s): check indentation and colons", strings.TrimPrefix(err.Error(), "yaml: "))
		return p, ds
	}
	if len(doc.Content) == 0 {
		return p, ds // an empty policy keeps every default
	}
	root := doc.Content[0]
	at := func(n *yaml.Node) diag.Range {
		return diag.Range{Filename: name, Start: diag.Pos{Line: n.Line, Column: n.Column, Byte: -1}}
	}
	bad := map[*yaml.Node]bool{}
	s, err := schemas.CompilePolicy()
	if err != nil {
		panic("lint: " + err.Error()) // the embedded schema is broken: every test catches it
	}
	if err := s.Validate(toJSON(root)); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			panic("lint: policy schema validation: " + err.Error())
		}
		for _, be := range ve.BasicOutput().Errors {
			if be.Error == "" || strings.HasPrefix(be.Error, "doesn't validate with") {
				continue
			}
			val := nodeAt(root, be.InstanceLocation)
			n := val
			msg := policyMessage(be, val)
			if strings.Contains(be.KeywordLocation, "additionalProperties") || strings.Contains(be.KeywordLocation, "propertyNames") {
				if k := unknownKey(val, be.Error); k != nil {
					n = k
				}
			}
			bad[val] = true
			ds.Add(diag.InvalidPolicy, at(n), "%s", msg)
		}
	}
	section := func(name string) *yaml.Node { _, v := lookup(root, name); return v }
	if r := section("retention"); r != nil {
		readDurations(lookupVal(r, "max"), p.MaxRetention, bad)
		readDurations(lookupVal(r, "special"), p.MaxSpecial, bad)
	}
	p.LinkDomains = readDomains(section("links"), bad)
	p.IntegrationDomains = readDomains(section("integrations"), bad)
	if rs := section("rules"); rs != nil && rs.Kind == yaml.MappingNode && !bad[rs] {
		for i := 0; i+1 < len(rs.Content); i += 2 {
			k, v := rs.Content[i], rs.Content[i+1]
			r, ok := ruleByName(k.Value)
			switch {
			case !ok:
				d := ds.Add(diag.InvalidPolicy, at(k), "rules: %q is not a rule id or name: `parley lint` lists the rules in docs/rules.md", k.Value)
				d.Suggestion = diag.DidYouMean(k.Value, ruleNames())
				continue
			case !Suppressible(r.ID):
				ds.Add(diag.InvalidPolicy, at(k), "rules: %s (%s) stops the flow from running, so its severity cannot be changed", r.ID, r.Slug)
				continue
			}
			switch v.Value {
			case "off":
				p.Severity[r.ID] = Severity{Off: true}
			case "error":
				p.Severity[r.ID] = Severity{Level: diag.Error}
			case "warning":
				p.Severity[r.ID] = Severity{Level: diag.Warning}
			case "info":
				p.Severity[r.ID] = Severity{Level: diag.Info}
			}
		}
	}
	ds.Sort()
	return p, ds
}

func readDurations(m *yaml.Node, into map[string]time.Duration, bad map[*yaml.Node]bool) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if bad[v] || bad[m] {
			continue
		}
		if r, err := flow.ParseRetention(v.Value); err == nil && r.Kind == flow.RetainFor {
			into[k.Value] = r.For
		}
	}
}

func readDomains(sec *yaml.Node, bad map[*yaml.Node]bool) []string {
	l := lookupVal(sec, "allow")
	if l == nil || l.Kind != yaml.SequenceNode {
		return nil
	}
	out := []string{}
	for _, n := range l.Content {
		if !bad[n] {
			out = append(out, n.Value)
		}
	}
	return out
}

// allowedHost reports whether host is one of domains or below one of them;
// a nil list allows every host.
func allowedHost(host string, domains []string) bool {
	if domains == nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

func ruleByName(name string) (diag.Rule, bool) {
	if r, ok := diag.Lookup(diag.RuleID(name)); ok {
		return r, true
	}
	for _, r := range diag.Rules() {
		if r.Slug == name {
			return r, true
		}
	}
	return diag.Rule{}, false
}

func ruleNames() []string {
	var out []string
	for _, r := range diag.Rules() {
		out = append(out, string(r.ID), r.Slug)
	}
	return out
}

func policyMessage(be jsonschema.BasicError, val *yaml.Node) string {
	where := strings.ReplaceAll(strings.TrimPrefix(be.InstanceLocation, "/"), "/", ".")
	if where == "" {
		where = "the policy"
	}
	kw := be.KeywordLocation[strings.LastIndex(be.KeywordLocation, "/")+1:]
	switch {
	case kw == "additionalProperties" || strings.Contains(be.KeywordLocation, "propertyNames"):
		return fmt.Sprintf("%s: %s; the keys allowed here are in schemas/policy.schema.json", where, strings.TrimPrefix(be.Error, "additionalProperties "))
	case kw == "pattern" && strings.Contains(be.AbsoluteKeywordLocation, "duration"):
		return fmt.Sprintf("%s: %q is not a duration: write a number and a unit such as 30d, 12h or 2y", where, val.Value)
	case kw == "pattern":
		return fmt.Sprintf("%s: %q is not a domain: write it in lower case without https:// or a path, such as example.com", where, val.Value)
	case kw == "enum":
		return fmt.Sprintf("%s: %q is not a severity: write error, warning, info or off", where, val.Value)
	case kw == "type":
		return fmt.Sprintf("%s: %s", where, be.Error)
	}
	return fmt.Sprintf("%s: %s", where, be.Error)
}

// unknownKey finds, in mapping m, the key a schema error about unknown
// properties names.
func unknownKey(m *yaml.Node, msg string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i < len(m.Content); i += 2 {
		if strings.Contains(msg, "'"+m.Content[i].Value+"'") {
			return m.Content[i]
		}
	}
	return nil
}

// nodeAt returns the node at a JSON pointer in root, or the deepest node
// on the way that exists.
func nodeAt(root *yaml.Node, ptr string) *yaml.Node {
	val := root
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch val.Kind {
		case yaml.MappingNode:
			v := lookupVal(val, tok)
			if v == nil {
				return val
			}
			val = v
		case yaml.SequenceNode:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(val.Content) {
				return val
			}
			val = val.Content[i]
		default:
			return val
		}
	}
	return val
}

func lookup(m *yaml.Node, name string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func lookupVal(m *yaml.Node, name string) *yaml.Node { _, v := lookup(m, name); return v }

// toJSON turns a YAML node tree into the JSON-shaped values the schema
// library accepts. Scalars stay text unless YAML typed them as numbers or
// booleans, so "2y" and "off" are strings.
func toJSON(n *yaml.Node) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = toJSON(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = toJSON(c)
		}
		return l
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!null":
			return nil
		}
		return n.Value
	case yaml.AliasNode:
		return nil
	}
	return nil
}

func yamlErrLine(err error) int {
	var line int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); e == nil && line > 0 {
		return line
	}
	return 1
}

func retentionString(d time.Duration) string {
	return flow.Retention{Kind: flow.RetainFor, For: d}.String()
}

// sortedKeys is the keys of m in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
