package compile

import (
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// HeldKey is the environment name under which the runtime passes which
// fields are held (map[string]bool), for default(). Like LangKey it cannot
// be spelled in a flow.
const HeldKey = "\x00held"

// A template falls back with default (issue 11, item 3):
//
//	Nice to meet you, {{ name | default("there") }}!
//
// shows the fallback when the field is not held: never collected (declined
// consent, a skipped branch), forgotten or expired. default(name, "there")
// is the same call written without the pipe.
const defaultUsage = `default() takes a field and what to show when it is not held, like {{ name | default("there") }}`

// defaultOption is the expr function behind default; datePatch's sibling
// defaultPatch gives it the field's name and HeldKey.
func defaultOption() expr.Option {
	return expr.Function("default", func(args ...any) (any, error) {
		name, _ := args[2].(string)
		held, _ := args[3].(map[string]bool)
		if held[name] {
			return args[0], nil
		}
		return args[1], nil
	}, new(func(any, any, string, map[string]bool) any))
}

// defaultPatch rewrites default(field, fallback) into default(field,
// fallback, "field", <HeldKey>) and reports misuse in plain words.
type defaultPatch struct {
	p   *Program
	err *file.Error
}

func (d *defaultPatch) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || callee.Value != "default" || len(call.Arguments) == 4 {
		return
	}
	bad := func() {
		if d.err == nil {
			d.err = &file.Error{Location: call.Location(), Message: defaultUsage}
		}
	}
	if len(call.Arguments) != 2 {
		bad()
		return
	}
	id, ok := call.Arguments[0].(*ast.IdentifierNode)
	if !ok {
		bad()
		return
	}
	if _, ok := d.p.fieldIndex[id.Value]; !ok {
		return // the checker reports the unknown name with did-you-mean
	}
	name := &ast.StringNode{Value: id.Value}
	held := &ast.IdentifierNode{Value: HeldKey}
	name.SetLocation(id.Location())
	held.SetLocation(id.Location())
	call.Arguments = append(call.Arguments, name, held)
}
