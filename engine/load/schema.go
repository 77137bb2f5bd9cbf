package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/schemas"
)

var (
	schemaOnce sync.Once
	flowSchema *jsonschema.Schema
	rawSchema  map[string]any
)

// loadSchema compiles the embedded schema and keeps its JSON form, which is
// where did-you-mean candidates, enum values and required keys come from.
// A broken embedded schema is a programmer mistake caught by every test.
func loadSchema() (*jsonschema.Schema, map[string]any) {
	schemaOnce.Do(func() {
		s, err := schemas.Compile()
		if err != nil {
			panic("load: " + err.Error())
		}
		if err := json.Unmarshal(schemas.FlowJSON, &rawSchema); err != nil {
			panic("load: flow schema: " + err.Error())
		}
		flowSchema = s
	})
	return flowSchema, rawSchema
}

// schemaError is one leaf of a jsonschema validation error, resolved to
// what the diagnostics need.
type schemaError struct {
	keyword  string         // "required", "type", …
	kwTokens []string       // keyword path inside the schema, for dependentRequired
	schema   map[string]any // the schema object holding the keyword
	defName  string         // the $defs entry the keyword sits in, if any
	path     []string       // instance location, unescaped
	viaNames bool           // raised under propertyNames: path ends at a key
	message  string         // the library's text, kept as detail
}

func (l *loader) validateSchema(root *yaml.Node, inst any) {
	s, raw := loadSchema()
	err := s.Validate(inst)
	if err == nil {
		return
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		panic("load: schema validation: " + err.Error()) // inst is always JSON-shaped
	}
	for _, be := range ve.BasicOutput().Errors {
		if be.Error == "" || strings.HasPrefix(be.Error, "doesn't validate with") {
			continue // wrappers around the leaves
		}
		se, ok := resolveError(raw, be)
		if !ok || l.isSuppressed(se.path) {
			continue
		}
		l.schemaDiag(root, se)
	}
}

func resolveError(raw map[string]any, be jsonschema.BasicError) (schemaError, bool) {
	_, frag, _ := strings.Cut(be.AbsoluteKeywordLocation, "#")
	toks := pointerTokens(frag)
	if len(toks) == 0 {
		return schemaError{}, false
	}
	se := schemaError{path: pointerTokens(be.InstanceLocation), message: be.Error}
	cut := len(toks) - 1
	if len(toks) >= 3 && toks[len(toks)-3] == "dependentRequired" {
		cut = len(toks) - 3
	}
	se.keyword, se.kwTokens = toks[cut], toks[cut:]
	if len(toks) >= 2 && toks[0] == "$defs" {
		se.defName = toks[1]
	}
	var cur any = raw
	for _, t := range toks[:cut] {
		m, ok := cur.(map[string]any)
		if !ok {
			return se, false
		}
		cur = m[t]
	}
	se.schema, _ = cur.(map[string]any)
	se.viaNames = strings.Contains(be.KeywordLocation, "/propertyNames/")
	return se, se.schema != nil
}

// pointerTokens splits a JSON pointer as jsonschema/v5 writes it: each
// token ~-escaped and then URL-path-escaped.
func pointerTokens(ptr string) []string {
	if ptr == "" || ptr == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts
}

// nodeAt walks path from root and returns the key and value nodes of the
// last token (key is nil for list items and the root). exact is false when
// the path could not be followed to its end.
func nodeAt(root *yaml.Node, path []string) (key, val *yaml.Node, exact bool) {
	val = root
	for _, tok := range path {
		var nk, nv *yaml.Node
		switch val.Kind {
		case yaml.MappingNode:
			nk, nv = lookup(val, tok)
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(val.Content) {
				nv = val.Content[i]
			}
		}
		if nv == nil {
			return key, val, false
		}
		key, val = nk, nv
	}
	return key, val, true
}

// commaSplit reports whether the value at path is the part after a comma
// of an unquoted text in a flow mapping: { it: Ciao, come stai, en: Hi }
// reads as the key "come stai" with no value. Such a key is not a
// language code and has no ": " of its own.
func commaSplit(root *yaml.Node, path []string) bool {
	if len(path) == 0 {
		return false
	}
	_, parent, ok := nodeAt(root, path[:len(path)-1])
	if !ok || parent.Kind != yaml.MappingNode || parent.Style&yaml.FlowStyle == 0 {
		return false
	}
	key, val, ok := nodeAt(root, path)
	return ok && key != nil && key.Style == 0 && !langCode.MatchString(key.Value) &&
		val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null" && val.Value == ""
}

var langCode = regexp.MustCompile(`^[a-z]{2}$`)

var sectionNouns = map[string]string{"steps": "step", "fields": "field", "purposes": "purpose", "integrations": "integration"}

// where says which part of the flow a mapping at path is, for messages:
// ` in step "ask_name"`, ` in option 2 of step "pick"`, ` at the top of the flow`.
func where(path []string) string {
	if len(path) == 0 {
		return " at the top of the flow"
	}
	if noun, ok := sectionNouns[path[0]]; ok && len(path) >= 2 {
		if path[0] == "steps" && len(path) >= 4 && path[2] == "options" {
			if i, err := strconv.Atoi(path[3]); err == nil {
				return fmt.Sprintf(" in option %d of step %q", i+1, path[1])
			}
		}
		return fmt.Sprintf(" in %s %q", noun, path[1])
	}
	switch path[0] {
	case "controller", "keywords", "whatsapp":
		return " in " + path[0]
	}
	return fmt.Sprintf(" in %q", path[0])
}

// describe names the value at path: `"say" in step "greet"`, `item 2 of
// "languages"`, `the "it" text of "ask" in step "ask_name"`.
func describe(path []string) string {
	n := len(path)
	switch {
	case n == 0:
		return "the flow"
	case n == 1:
		return strconv.Quote(path[0])
	case n == 2 && sectionNouns[path[0]] != "":
		return fmt.Sprintf("%s %q", sectionNouns[path[0]], path[1])
	}
	last, parent := path[n-1], path[:n-1]
	if i, err := strconv.Atoi(last); err == nil {
		if parent[len(parent)-1] == "options" && len(parent) == 3 {
			return fmt.Sprintf("option %d%s", i+1, where(parent[:2]))
		}
		return fmt.Sprintf("item %d of %s", i+1, describe(parent))
	}
	if textKeys[parent[len(parent)-1]] && len(parent) >= 2 && isLangLike(last) {
		return fmt.Sprintf("the %q text of %s", last, describe(parent))
	}
	if len(parent) == 1 && sectionNouns[parent[0]] == "" && parent[0] != "controller" && parent[0] != "keywords" && parent[0] != "whatsapp" {
		return fmt.Sprintf("%q in %q", last, parent[0])
	}
	return strconv.Quote(last) + where(parent)
}

var textKeys = map[string]bool{
	"say": true, "ask": true, "retry": true, "handoff": true, "title": true,
	"description": true, "label": true, "my_data": true, "delete": true,
	"stop": true, "privacy": true, "human": true, "language": true,
}

func isLangLike(s string) bool { return len(s) <= 3 }

// typeWords renders a JSON Schema type list in the author's words.
func typeWords(t any) string {
	var ts []string
	switch t := t.(type) {
	case string:
		ts = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				ts = append(ts, s)
			}
		}
	}
	if len(ts) == 2 && ts[0] == "string" && ts[1] == "object" {
		return "text (one text, or one per language such as en: …)"
	}
	words := map[string]string{
		"string": "text", "integer": "a whole number", "number": "a number",
		"boolean": "true or false", "object": "a block of keys", "array": "a list",
		"null": "empty",
	}
	var out []string
	for _, t := range ts {
		out = append(out, words[t])
	}
	return strings.Join(out, " or ")
}

var patternHelp = map[string]string{
	"slug":       "use lower-case letters and digits separated by dashes, such as dental-booking",
	"name":       "use letters, digits and underscores, starting with a letter",
	"lang":       "use a two-letter language code in lower case, such as en or it",
	"retention":  "write a number and a unit (m, h, d, w or y) such as 30d, 12h or 1y, or session, or transient",
	"lifetime":   "write a number and a unit (m, h, d, w or y) such as 30d, 12h or 1y",
	"secret_env": "write the name of an environment variable in capitals, such as CRM_TOKEN",
	"timeout":    "write a number and a unit such as 5s, 500ms or 1m",
}

var nameNouns = map[string]string{
	"steps": "step name", "fields": "field name", "purposes": "purpose name", "integrations": "integration name",
}

func (l *loader) schemaDiag(root *yaml.Node, se schemaError) {
	key, val, exact := nodeAt(root, se.path)
	valRange := l.src.nodeRange(val)
	// keyRange points at the key holding the value, or the value itself.
	keyRange := valRange
	if key != nil {
		keyRange = l.src.nodeRange(key)
	}
	subject := describe(se.path)
	shown := kindWords(val)
	secret := len(se.path) > 0 && diag.IsSecretKey(se.path[len(se.path)-1]) && val.Kind == yaml.ScalarNode
	if secret {
		// What is written under a secret's name (secret_env: sk_live_…) may
		// be the secret itself: never repeat it.
		shown = "this value (not repeated here: it may be a secret)"
	}

	if se.viaNames {
		// The instance location names the offending key itself.
		if key == nil || !exact {
			return
		}
		parent := se.path[:len(se.path)-1]
		noun := "name"
		if len(parent) > 0 {
			if n, ok := nameNouns[parent[len(parent)-1]]; ok && len(parent) == 1 {
				noun = n
			} else {
				noun = "language code"
			}
		}
		if commaSplit(root, se.path) {
			l.add(diag.InvalidValue, keyRange, "a comma inside { … } ends the text early: put the whole text in quotes")
			return
		}
		help := patternHelp[se.defName]
		if help == "" {
			help = "see docs/language.md"
		}
		d := l.add(diag.InvalidValue, keyRange, "%q is not a valid %s%s: %s", key.Value, noun, where(parent), help)
		d.Detail = "schema: " + se.message
		return
	}

	switch se.keyword {
	case "additionalProperties":
		if val.Kind != yaml.MappingNode {
			return
		}
		props := propertyNames(se.schema)
		known := map[string]bool{}
		for _, p := range props {
			known[p] = true
		}
		for i := 0; i+1 < len(val.Content); i += 2 {
			k := val.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || known[k.Value] || k.Value == "<<" {
				continue
			}
			if l.isSuppressed(append(se.path[:len(se.path):len(se.path)], k.Value)) {
				continue
			}
			r := l.src.nodeRange(k)
			d := l.add(diag.UnknownKey, r, "unknown key %q%s", k.Value, where(se.path))
			d.Suggestion = diag.DidYouMean(k.Value, props)
			if d.Suggestion == "" {
				d.Detail = "allowed here: " + strings.Join(props, ", ")
			}
			if diag.IsSecretKey(k.Value) {
				l.add(diag.SecretInFlow, r, "%q looks like a secret written in the flow: keep it in an environment variable and name that variable with secret_env", k.Value)
			}
		}
	case "required":
		if val.Kind != yaml.MappingNode {
			return
		}
		for _, name := range stringList(se.schema["required"]) {
			if k, _ := lookup(val, name); k != nil || len(se.path) == 0 && name == "parley" {
				continue
			}
			l.add(diag.MissingKey, keyRange, "missing key %q%s", name, where(se.path))
		}
	case "dependentRequired":
		if len(se.kwTokens) != 3 || val.Kind != yaml.MappingNode {
			return
		}
		dep := se.kwTokens[1]
		deps, _ := se.schema["dependentRequired"].(map[string]any)
		for _, name := range stringList(deps[dep]) {
			if k, _ := lookup(val, name); k != nil {
				continue
			}
			r := keyRange
			if k, _ := lookup(val, dep); k != nil {
				r = l.src.nodeRange(k)
			}
			l.add(diag.MissingKey, r, "missing key %q%s: a flow with %s must also have %s", name, where(se.path), dep, name)
		}
	case "type":
		want := typeWords(se.schema["type"])
		hint := ""
		switch {
		case val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null":
			if commaSplit(root, se.path) {
				return // reported once, as the comma that split the text
			}
			l.add(diag.WrongType, keyRange, "%s is empty: it must be %s", subject, want)
			return
		case strings.HasPrefix(want, "text") && val.Kind == yaml.ScalarNode:
			hint = "; put it in quotes"
		case want == "true or false" && val.Kind == yaml.ScalarNode:
			hint = "; write true or false"
		case (want == "a whole number" || want == "a number") && val.Kind == yaml.ScalarNode && val.ShortTag() == "!!str":
			hint = "; write the number without quotes"
		}
		l.add(diag.WrongType, valRange, "%s must be %s, not %s%s", subject, want, shown, hint)
	case "enum":
		allowed := stringList(se.schema["enum"])
		d := l.add(diag.InvalidValue, valRange, "%s cannot be %s: use one of %s", subject, shown, strings.Join(allowed, ", "))
		if val.Kind == yaml.ScalarNode {
			d.Suggestion = diag.DidYouMean(val.Value, allowed)
		}
	case "const":
		l.add(diag.InvalidValue, valRange, "%s must be %v", subject, se.schema["const"])
	case "pattern":
		name := se.defName
		if len(se.kwTokens) > 0 && (name == "" || name == "step") && len(se.path) > 0 {
			name = se.path[len(se.path)-1]
		}
		help := patternHelp[name]
		if help == "" {
			help = "it does not have the expected form"
		}
		d := l.add(diag.InvalidValue, valRange, "%s cannot be %s: %s", subject, shown, help)
		if name == "retention" || name == "lifetime" {
			d.Suggestion = retentionFix(val.Value)
		}
	case "minimum":
		l.add(diag.InvalidValue, valRange, "%s must be at least %v", subject, se.schema["minimum"])
	case "maximum":
		l.add(diag.InvalidValue, valRange, "%s must be at most %v", subject, se.schema["maximum"])
	case "minItems", "minProperties", "minLength":
		what := "must not be empty"
		if len(se.path) == 1 && se.path[0] == "steps" {
			what = "needs at least one step"
		} else if len(se.path) == 1 && se.path[0] == "languages" {
			what = "needs at least one language"
		}
		l.add(diag.InvalidValue, keyRange, "%s %s", subject, what)
	case "uniqueItems":
		var i, j int
		if _, err := fmt.Sscanf(se.message, "items at index %d and %d are equal", &i, &j); err != nil || val.Kind != yaml.SequenceNode || j >= len(val.Content) {
			return
		}
		item := val.Content[j]
		l.add(diag.InvalidValue, l.src.nodeRange(item), "%s is listed twice in %s", kindWords(item), subject)
	default:
		d := l.add(diag.InvalidValue, valRange, "%s is not valid", subject)
		if !secret {
			d.Detail = "schema: " + se.message
		}
	}
}

func propertyNames(schema map[string]any) []string {
	props, _ := schema["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for p := range props {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func stringList(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var retentionWords = regexp.MustCompile(`^\s*([1-9][0-9]*)\s*(minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|years?|yrs?)\s*$`)

// retentionFix suggests the short form of a retention written in words
// ("30 days" → did you mean "30d"?).
func retentionFix(v string) string {
	m := retentionWords.FindStringSubmatch(strings.ToLower(v))
	if m == nil {
		return ""
	}
	unit := m[2][:1]
	return `did you mean "` + m[1] + unit + `"?`
}
