package flow

import (
	"fmt"
	"slices"
	"strings"
)

// StepKind is one kind of step. A step's kind is decided by which of the
// kind keys it has; StepKinds is the only place the kinds, the keys that go
// with each, and the order that decides a step's kind are written. The
// validator's "keys that go together" checks, the docs table "Which keys go
// together" in docs/language.md and the schema's step properties are checked
// against it by tests (engine/flow/kinds_test.go).
//
// A kind's unit, one registration per layer (the layer table keeps decode,
// compile and run in separate packages): its entry here and its fields on
// Step; its decoder in load.stepDecoders; its compile function in
// compile.stepKinds; its runner in runtime.runners; optionally a check in
// validate.kindChecks; its property in schemas/flow.schema.json and its
// section in docs/language.md. A test in each package fails when the kind
// is missing there.
type StepKind struct {
	// Name is the key that makes a step this kind ("ask").
	Name string
	// Keys are the keys that go only with this kind (and with the other
	// kinds that list them), besides next and end.
	Keys []string
	// Required are the Keys this kind must have.
	Required []string
	// NoNext and NoEnd forbid next: and end: on this kind.
	NoNext, NoEnd bool
	// Hints say in the author's words how to fix a step that breaks the
	// rules above: per key of Keys written without this kind, under "no
	// KEY" for a missing Required key, and under "next" (the whole message
	// after the step's name) for a next: on a NoNext kind.
	Hints map[string]string
}

// StepKinds lists every step kind. The order is the precedence: a step
// with several kind keys (an error the validator reports) is treated as the
// first kind it has, so later stages can still check it.
var StepKinds = []StepKind{
	{Name: "say"},
	{Name: "ask", Keys: []string{"save", "options", "options_from", "retry", "attempts", "on_fail"}, Hints: map[string]string{
		"save":     "save only goes with a question",
		"options":  "options only goes with a question",
		"retry":    "retry only goes with a question",
		"attempts": "attempts only goes with a question",
		"on_fail":  "on_fail says where to go when a question or a call fails",
	}},
	{Name: "if", Keys: []string{"then", "else"}, Required: []string{"then"}, NoNext: true, NoEnd: true, Hints: map[string]string{
		"then": "add the condition, or use next",
		"else": "add the condition, or use next",
		// Required and NoNext:
		"no then": "say which step to go to when the condition is true",
		"next":    "has if and next: then and else already say where to go",
	}},
	{Name: "call", Keys: []string{"on_fail"}},
	{Name: "handoff", NoNext: true, Hints: map[string]string{
		"next": "hands off to a person and has next: the flow stops at a handoff, so remove next",
	}},
	{Name: "forget"},
	{Name: "withdraw"},
	{Name: "remind", Keys: []string{"at"}, Required: []string{"at"}, Hints: map[string]string{
		"at":    "at says when a remind step sends its template",
		"no at": "say when to send the reminder, such as at: day - 1d + 9h",
	}},
}

// Step kind names, as written in flows.
const (
	KindGoto     = "" // a step with only next: or end:
	KindSay      = "say"
	KindAsk      = "ask"
	KindIf       = "if"
	KindCall     = "call"
	KindHandoff  = "handoff"
	KindForget   = "forget"
	KindWithdraw = "withdraw"
	KindRemind   = "remind"
)

// KindsOf returns the names of the kind keys among keys, in precedence
// order. The first one is the step's kind.
func KindsOf(keys []string) []string {
	var out []string
	for _, k := range StepKinds {
		for _, key := range keys {
			if key == k.Name {
				out = append(out, k.Name)
				break
			}
		}
	}
	return out
}

// KeyHint returns how to fix a step that has key without any kind that
// owns it: the hint of the first kind that owns it.
func KeyHint(key string) string {
	for _, k := range StepKinds {
		if h, ok := k.Hints[key]; ok && slices.Contains(k.Keys, key) {
			return h
		}
	}
	return ""
}

// KindOwners returns the kinds whose Keys hold key, in table order.
func KindOwners(key string) []string {
	var out []string
	for _, k := range StepKinds {
		for _, kk := range k.Keys {
			if kk == key {
				out = append(out, k.Name)
			}
		}
	}
	return out
}

// Kind returns the step's kind: the first kind key it has, or KindGoto.
func (s *Step) Kind() string {
	if len(s.Kinds) == 0 {
		return KindGoto
	}
	return s.Kinds[0]
}

// Has reports whether the step was written with key.
func (s *Step) Has(key string) bool {
	for _, k := range s.Keys {
		if k == key {
			return true
		}
	}
	return false
}

// KindsTable renders StepKinds as the "Which keys go together" table of
// docs/language.md (a test keeps the docs equal to it).
func KindsTable() string {
	var b strings.Builder
	b.WriteString("| step does | may also have | must not have |\n|---|---|---|\n")
	for _, k := range StepKinds {
		var may, not []string
		for _, key := range k.Keys {
			if slices.Contains(k.Required, key) {
				may = append(may, "`"+key+"` (required)")
			} else {
				may = append(may, "`"+key+"`")
			}
		}
		switch {
		case !k.NoNext && !k.NoEnd:
			may = append(may, "`next` or `end`")
		case !k.NoEnd:
			may = append(may, "`end`")
		case !k.NoNext:
			may = append(may, "`next`")
		}
		if k.NoNext {
			not = append(not, "`next`")
		}
		if k.NoEnd {
			not = append(not, "`end`")
		}
		for _, o := range StepKinds {
			if o.Name != k.Name {
				not = append(not, "`"+o.Name+"`")
			}
		}
		if len(may) == 0 {
			may = []string{"—"}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.Name, strings.Join(may, ", "), strings.Join(not, ", "))
	}
	return b.String()
}
