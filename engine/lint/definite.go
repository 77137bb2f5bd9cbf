package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// Definite assignment (issue 11, item 3): a message, condition or
// integration that uses a field on a path where nothing has set it shows an
// empty value, compares against nothing or sends a blank. checkMaybeUnset
// walks the flow graph once per used field, with the field's state (held or
// not) as part of the walk, and reports each use it can reach with the
// field not held, with the shortest such path.
//
// What unsets a field on a path: the conversation's start (nothing asked
// yet, or an answer kept only for a session or a turn of an earlier
// conversation), a question of a consent purpose declined (the flow goes to
// on_decline, or on past the question), a question that gives up (on_fail),
// a call that fails (its receives: are set on success only), forget:,
// withdraw: of the field's purpose, and, for a transient field, any question
// after the one that set it (transient answers last one turn).

// fieldUse is one place a step reads a field.
type fieldUse struct {
	step  int
	field string
	at    diag.Range
	what  string // "the message", "the condition", "the call to crm"
}

// edge is one way out of a step: where it goes and what it does to the
// field being followed.
type edge struct {
	to      int
	label   string // why this way is taken, "" for the usual one
	set     bool   // the field is held after it
	unset   bool   // the field is not held after it
	decline uint64 // the purpose bit this way declines
}

// daNode is a step reached with the field held or not, and the purposes
// (bits by declaration order, the first 64) the customer declined on the
// way: a later question of a declined purpose is skipped.
type daNode struct {
	step     int
	unset    bool
	declined uint64
}

func checkMaybeUnset(l *linter) {
	if !l.compiled {
		return
	}
	f := l.f
	index := map[string]int{}
	for i, s := range f.Steps {
		index[s.ID.Value] = i
	}
	start, ok := index[f.Start.Value]
	if !ok || len(f.Steps) == 0 {
		return
	}
	uses := l.fieldUses()
	byField := map[string][]fieldUse{}
	var order []string
	for _, u := range uses {
		if _, seen := byField[u.field]; !seen {
			order = append(order, u.field)
		}
		byField[u.field] = append(byField[u.field], u)
	}
	for _, name := range order {
		fd := f.FieldByName(name)
		parent, first := l.walkUnset(fd, index, start)
		for _, u := range byField[name] {
			n, reached := first[u.step]
			if !reached {
				continue
			}
			d := l.add(diag.MaybeUnset, u.at, "step %q uses field %q in %s, but on some path it is not held there: %s", f.Steps[u.step].ID.Value, name, u.what, l.pathTo(parent, n))
			d.Detail = fmt.Sprintf("Ask for %q on that path, or give the message a fallback: {{ %s | default(\"…\") }}.", name, name)
		}
	}
}

// daParent records how a node was first reached: from which node, by which
// edge label. The start node is its own parent.
type daParent struct {
	from  daNode
	label string
}

// walkUnset explores the flow breadth first from its start, where fd is not
// held, and returns every node reached with the way it was first reached,
// and per step the first node that reaches it with fd not held.
func (l *linter) walkUnset(fd *flow.Field, index map[string]int, start int) (map[daNode]daParent, map[int]daNode) {
	root := daNode{start, true, 0}
	parent := map[daNode]daParent{root: {from: root}}
	first := map[int]daNode{start: root}
	queue := []daNode{root}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range l.edges(n, fd, index) {
			if e.to < 0 {
				continue
			}
			unset := n.unset
			if e.set {
				unset = false
			}
			if e.unset {
				unset = true
			}
			m := daNode{e.to, unset, n.declined | e.decline}
			if _, seen := parent[m]; !seen {
				parent[m] = daParent{n, e.label}
				queue = append(queue, m)
				if _, ok := first[m.step]; !ok && unset {
					first[m.step] = m
				}
			}
		}
	}
	return parent, first
}

// pathTo writes the steps from the start to n, with why each turn was
// taken: greet → ask_name (consent declined) → goodbye.
func (l *linter) pathTo(parent map[daNode]daParent, n daNode) string {
	parts := []string{l.f.Steps[n.step].ID.Value}
	for {
		p := parent[n]
		if p.from == n {
			break
		}
		step := l.f.Steps[p.from.step].ID.Value
		if p.label != "" {
			step += " (" + p.label + ")"
		}
		parts = append(parts, step)
		n = p.from
	}
	slices.Reverse(parts)
	return strings.Join(parts, " → ")
}

// edges returns the ways out of node n's step and what each does to field
// fd.
func (l *linter) edges(n daNode, fd *flow.Field, index map[string]int) []edge {
	f := l.f
	i := n.step
	s := f.Steps[i]
	target := func(sc flow.Scalar) int {
		if j, ok := index[sc.Value]; ok && sc.IsSet() {
			return j
		}
		return -1
	}
	next := -1
	switch {
	case s.End.Value:
	case s.Next.IsSet():
		next = target(s.Next)
	case i+1 < len(f.Steps):
		next = i + 1
	}
	or := func(sc flow.Scalar) int {
		if sc.IsSet() {
			return target(sc)
		}
		return next
	}
	name := fd.Name.Value
	transient := fd.Retention.Value == "transient"
	switch s.Kind() {
	case flow.KindAsk:
		// Every way out of a question comes after the customer's answer, a
		// new turn: a transient answer of an earlier turn is gone.
		saves := s.Save.Value == name
		saved := f.FieldByName(s.Save.Value)
		var bit uint64
		if saved != nil && l.needsConsent(saved.Purpose.Value) {
			bit = l.purposeBit(saved.Purpose.Value)
		}
		if bit != 0 && n.declined&bit != 0 {
			// Declined earlier in this conversation: the question is
			// skipped without a word, and the turn goes on.
			return []edge{{to: next, label: "its purpose declined earlier: skipped"}}
		}
		gone := transient && !saves
		label := labelIf(gone, "a new turn: the transient answer is gone")
		var out []edge
		if len(s.Options) == 0 {
			out = append(out, edge{to: next, label: label, set: saves, unset: gone})
		}
		for _, o := range s.Options {
			out = append(out, edge{to: or(o.Next), label: label, set: saves, unset: gone})
		}
		if saved != nil && l.needsConsent(saved.Purpose.Value) {
			to := next
			if pu := f.PurposeByName(saved.Purpose.Value); pu != nil && pu.OnDecline.IsSet() {
				to = target(pu.OnDecline)
			}
			out = append(out, edge{to: to, label: "consent declined", unset: transient, decline: bit})
		}
		if s.OnFail.IsSet() {
			out = append(out, edge{to: target(s.OnFail), label: "answer not accepted", unset: transient})
		}
		return out
	case flow.KindIf:
		return []edge{{to: or(s.Then)}, {to: or(s.Else), label: "condition false"}}
	case flow.KindCall:
		receives := false
		if in := f.IntegrationByName(s.Call.Value); in != nil {
			receives = slices.ContainsFunc(in.Receives, func(r flow.Scalar) bool { return r.Value == name })
		}
		return []edge{{to: next, set: receives}, {to: or(s.OnFail), label: "call failed"}}
	case flow.KindHandoff:
		return nil
	case flow.KindForget:
		forgets := slices.ContainsFunc(s.Forget, func(r flow.Scalar) bool { return r.Value == name })
		return []edge{{to: next, label: labelIf(forgets, "forgets it"), unset: forgets}}
	case flow.KindWithdraw:
		withdraws := s.Withdraw.Value == fd.Purpose.Value
		return []edge{{to: next, label: labelIf(withdraws, "consent withdrawn"), unset: withdraws}}
	}
	return []edge{{to: next}}
}

// purposeBit is the bit of purpose in daNode.declined, or 0 past the
// first 64 purposes (their declines are then not followed).
func (l *linter) purposeBit(purpose string) uint64 {
	for i, pu := range l.f.Purposes {
		if pu.Name.Value == purpose && i < 64 {
			return 1 << i
		}
	}
	return 0
}

func labelIf(cond bool, label string) string {
	if cond {
		return label
	}
	return ""
}

// needsConsent reports whether answers for purpose are collected only after
// the customer agrees: basis consent, or a special category field.
func (l *linter) needsConsent(purpose string) bool {
	pu := l.f.PurposeByName(purpose)
	if pu == nil {
		return false
	}
	if pu.Basis.Value == flow.BasisConsent {
		return true
	}
	return slices.ContainsFunc(l.f.Fields, func(fd *flow.Field) bool {
		return fd.Purpose.Value == purpose && fd.Special.IsSet()
	})
}

// fieldUses lists every read of a declared field by a step: in its texts'
// {{ }} templates (except inside default()) of the texts shown when it
// runs (say, ask, option titles, handoff; a retry text is shown in a later
// turn and left out), in its condition, and in what its call sends.
func (l *linter) fieldUses() []fieldUse {
	var out []fieldUse
	add := func(i int, names []string, at diag.Range, what string) {
		seen := map[string]bool{}
		for _, n := range names {
			if !seen[n] && l.f.FieldByName(n) != nil {
				seen[n] = true
				out = append(out, fieldUse{i, n, at, what})
			}
		}
	}
	for i, s := range l.f.Steps {
		shown := []*flow.Text{s.Say, s.Ask, s.Handoff}
		for _, o := range s.Options {
			shown = append(shown, o.Title)
		}
		for _, t := range shown {
			texts(t, func(sc flow.Scalar, lang string) {
				var names []string
				for _, m := range templateRe.FindAllStringSubmatch(sc.Value, -1) {
					names = append(names, readNames(m[1])...)
				}
				add(i, names, sc.Range, "the message"+langNote(lang))
			})
		}
		if s.If.IsSet() {
			add(i, readNames(s.If.Value), s.If.Range, "the condition")
		}
		if s.Call.IsSet() {
			if in := l.f.IntegrationByName(s.Call.Value); in != nil {
				var names []string
				for _, sc := range in.Sends {
					names = append(names, sc.Value)
				}
				add(i, names, s.Call.Range, fmt.Sprintf("what integration %q sends", in.Name.Value))
			}
		}
	}
	return out
}

// readNames returns the identifiers an expression reads, leaving out the
// field of a default(field, fallback) call (written field | default(…)):
// that one is read only when it is held.
func readNames(code string) []string {
	tree, err := parser.Parse(code)
	if err != nil {
		return names(code) // compile reports the mistake; still see the fields
	}
	v := &readVisitor{}
	ast.Walk(&tree.Node, v)
	return v.names
}

type readVisitor struct{ names []string }

// Visit is called children first, so a default() call marks its field
// argument after the field was seen: collect identifiers at the call
// instead.
func (v *readVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		v.names = append(v.names, n.Value)
	case *ast.CallNode:
		callee, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || callee.Value != "default" || len(n.Arguments) == 0 {
			return
		}
		if id, ok := n.Arguments[0].(*ast.IdentifierNode); ok {
			// The field was appended when its node was visited; take the
			// last occurrence of it back.
			for j := len(v.names) - 1; j >= 0; j-- {
				if v.names[j] == id.Value {
					v.names = slices.Delete(v.names, j, j+1)
					break
				}
			}
		}
	}
}
