package compile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// helpers are the functions an expression may call besides expr's builtins;
// they are offered as did-you-mean candidates.
var helpers = append([]string{"title", "lower", "upper", "trim", "len", "contains", "startsWith", "endsWith"}, append(dateHelpers, "default")...)

type exprCompiler struct {
	p    *Program
	f    *flow.Flow
	ds   *diag.Diagnostics
	env  map[string]any
	opts []expr.Option
	// texts caches compiled scalars: a plain text is shared by every
	// language and must be compiled (and reported) once.
	texts map[*flow.Scalar]*Template
}

func newExprCompiler(p *Program, f *flow.Flow, ds *diag.Diagnostics) *exprCompiler {
	env := make(map[string]any, len(p.fields)+1)
	for _, fd := range p.fields {
		env[fd.Name] = fd.Zero
	}
	env[LangKey] = ""
	env[TodayKey] = ""
	env[HeldKey] = map[string]bool{}
	ec := &exprCompiler{p: p, f: f, ds: ds, env: env, texts: map[*flow.Scalar]*Template{}}
	ec.opts = []expr.Option{
		expr.Env(env),
		expr.MaxNodes(maxExprNodes),
		expr.Function("title", func(args ...any) (any, error) {
			// Patched calls are title(value, "field", lang).
			id, _ := args[0].(string)
			name, _ := args[1].(string)
			lang, _ := args[2].(string)
			fi, ok := p.fieldIndex[name]
			if !ok {
				return id, nil
			}
			return p.OptionTitle(fi, id, p.LangIndex(lang)), nil
		}, new(func(string, string, string) string)),
	}
	ec.opts = append(append(ec.opts, dateOptions()...), defaultOption())
	return ec
}

// titlePatch rewrites title(date) into title(date, "date", <lang>) so the
// helper knows which option table and language to use, and records misuse.
type titlePatch struct {
	p   *Program
	err *file.Error
}

func (t *titlePatch) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || callee.Value != "title" || len(call.Arguments) == 3 {
		return
	}
	bad := func(msg string) {
		if t.err == nil {
			loc := call.Location()
			t.err = &file.Error{Location: loc, Message: msg}
		}
	}
	if len(call.Arguments) != 1 {
		bad("title() takes one choice field, like title(date)")
		return
	}
	id, ok := call.Arguments[0].(*ast.IdentifierNode)
	if !ok {
		bad("title() takes the name of a choice field, like title(date)")
		return
	}
	fi, ok := t.p.fieldIndex[id.Value]
	if !ok {
		return // the checker reports the unknown name with did-you-mean
	}
	if t.p.fields[fi].Type != flow.TypeChoice {
		bad(fmt.Sprintf("title() needs a choice field, but %q is a %s field", id.Value, t.p.fields[fi].Type))
		return
	}
	name := &ast.StringNode{Value: id.Value}
	lang := &ast.IdentifierNode{Value: LangKey}
	name.SetLocation(id.Location())
	lang.SetLocation(id.Location())
	call.Arguments = append(call.Arguments, name, lang)
}

// compile compiles src, found at rune offset base of scalar s. It reports
// errors at their exact file position and returns nil on error.
func (ec *exprCompiler) compile(src string, s flow.Scalar, base int, asBool bool) *vm.Program {
	tp, dp, fp := &titlePatch{p: ec.p}, &datePatch{}, &defaultPatch{p: ec.p}
	opts := append(ec.opts[:len(ec.opts):len(ec.opts)], expr.Patch(tp), expr.Patch(dp), expr.Patch(fp))
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	for _, e := range []*file.Error{dp.err, fp.err} {
		if tp.err == nil {
			tp.err = e
		}
	}
	if tp.err != nil {
		ec.report(tp.err, s, base)
		return nil
	}
	if err == nil {
		return prog
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		ec.report(fe, s, base)
		return nil
	}
	// expr.AsBool reports a wrong result type without a position: point at
	// the start of the expression.
	msg := err.Error()
	rng := ec.rangeAt(s, base, base+utf8.RuneCountInString(src))
	if m := expectedRe.FindStringSubmatch(msg); m != nil {
		d := ec.ds.Add(diag.TypeMismatch, rng, "a condition must be true or false, but this gives %s", typeWords(m[2]))
		d.Detail = "Compare the field with something, for example: age >= 18, or name != \"\"."
		return nil
	}
	ec.ds.Add(diag.ExprError, rng, "%s", msg)
	return nil
}

var (
	expectedRe = regexp.MustCompile(`^expected (\w+), but got (\w+)`)
	unknownRe  = regexp.MustCompile(`^unknown name (\S+)`)
	mismatchRe = regexp.MustCompile(`^invalid operation: (\S+) \(mismatched types (\S+) and (\S+)\)`)
)

func (ec *exprCompiler) rangeAt(s flow.Scalar, from, to int) diag.Range {
	start := ec.f.File.OffsetPos(s, from)
	end := ec.f.File.OffsetPos(s, to)
	if end.Line < start.Line || (end.Line == start.Line && end.Column <= start.Column) {
		end = diag.Pos{}
	}
	return diag.Range{Filename: s.Range.Filename, Start: start, End: end}
}

func (ec *exprCompiler) report(fe *file.Error, s flow.Scalar, base int) {
	rng := ec.rangeAt(s, base+fe.From, base+fe.To)
	if m := unknownRe.FindStringSubmatch(fe.Message); m != nil {
		name := m[1]
		cands := append(ec.p.fieldNames(), helpers...)
		d := ec.ds.Add(diag.ExprError, rng, "unknown field %q", name)
		d.Suggestion = diag.DidYouMean(name, cands)
		if names := ec.p.fieldNames(); len(names) > 0 {
			d.Detail = "Expressions may use the declared fields (" + strings.Join(names, ", ") + ") and the helpers " + strings.Join(helpers, ", ") + "."
		} else {
			d.Detail = "This flow declares no fields under fields:, so expressions may only use the helpers " + strings.Join(helpers, ", ") + "."
		}
		return
	}
	if m := mismatchRe.FindStringSubmatch(fe.Message); m != nil {
		op, a, b := m[1], typeWords(m[2]), typeWords(m[3])
		var d *diag.Diagnostic
		switch op {
		case "==", "!=", "<", ">", "<=", ">=":
			d = ec.ds.Add(diag.TypeMismatch, rng, "cannot compare %s with %s", a, b)
		default:
			d = ec.ds.Add(diag.TypeMismatch, rng, "cannot use %q with %s and %s", op, a, b)
		}
		d.Detail = "Compare like with like: numbers with numbers (age > 18), text with quoted text (city == \"Rome\")."
		return
	}
	ec.ds.Add(diag.ExprError, rng, "%s", fe.Message)
}

// typeWords names a Go type the way a flow author would.
func typeWords(t string) string {
	switch t {
	case "float64", "float32", "int", "int64", "uint", "float":
		return "a number"
	case "string":
		return "text"
	case "bool":
		return "yes/no (true or false)"
	case "nil", "<nil>":
		return "nothing"
	}
	if strings.HasPrefix(t, "[]") {
		return "a list"
	}
	if strings.HasPrefix(t, "map[") {
		return "a map"
	}
	return t
}

// condition compiles an if: expression.
func (ec *exprCompiler) condition(s flow.Scalar) *vm.Program {
	if strings.TrimSpace(s.Value) == "" {
		ec.ds.Add(diag.ExprError, s.Range, "the condition is empty")
		return nil
	}
	return ec.compile(s.Value, s, 0, true)
}

// text compiles every translation of t.
func (ec *exprCompiler) text(t *flow.Text) *Text {
	if t == nil {
		return nil
	}
	out := &Text{ByLang: make([]*Template, len(ec.p.langs))}
	for li, l := range ec.p.langs {
		s := pickScalar(t, l, ec.p.langs[0])
		if s == nil {
			out.ByLang[li] = &Template{Static: true}
			continue
		}
		tpl, ok := ec.texts[s]
		if !ok {
			tpl = ec.template(*s)
			ec.texts[s] = tpl
		}
		out.ByLang[li] = tpl
	}
	return out
}

// pickScalar is flow.Text.For returning a pointer into t, so that the same
// scalar is recognised (and compiled once) across languages.
func pickScalar(t *flow.Text, lang, fallback string) *flow.Scalar {
	if t.Plain.IsSet() {
		return &t.Plain
	}
	var fb *flow.Scalar
	for i := range t.ByLang {
		lt := &t.ByLang[i]
		if lt.Lang.Value == lang {
			return &lt.Value
		}
		if lt.Lang.Value == fallback {
			fb = &lt.Value
		}
	}
	if fb != nil || len(t.ByLang) == 0 {
		return fb
	}
	return &t.ByLang[0].Value
}

// template splits s into literal parts and {{ expr }} parts and compiles the
// expressions. Offsets are counted in runes, as OffsetPos expects.
func (ec *exprCompiler) template(s flow.Scalar) *Template {
	src := s.Value
	if !strings.Contains(src, "{{") && !strings.Contains(src, "}}") {
		return &Template{Src: src, Static: true}
	}
	t := &Template{Src: src}
	rest, runeOff := src, 0
	var lit strings.Builder
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if c := strings.Index(rest, "}}"); c >= 0 {
				at := runeOff + utf8.RuneCountInString(rest[:c])
				d := ec.ds.Add(diag.ExprError, ec.rangeAt(s, at, at+2), "\"}}\" without a matching \"{{\"")
				d.Detail = "Write {{ field }} to insert a field; a lone }} is probably a typo."
			}
			lit.WriteString(rest)
			break
		}
		lit.WriteString(rest[:open])
		runeOff += utf8.RuneCountInString(rest[:open])
		body := rest[open+2:]
		closeAt := strings.Index(body, "}}")
		if closeAt < 0 {
			d := ec.ds.Add(diag.ExprError, ec.rangeAt(s, runeOff, runeOff+2), "\"{{\" is not closed: add \"}}\" after the expression")
			d.Detail = "Write {{ field }} to insert a field into a text."
			return t
		}
		code := body[:closeAt]
		if lit.Len() > 0 {
			t.Parts = append(t.Parts, Part{Kind: PartLiteral, Lit: lit.String()})
			lit.Reset()
		}
		base := runeOff + 2
		if strings.TrimSpace(code) == "" {
			ec.ds.Add(diag.ExprError, ec.rangeAt(s, runeOff, runeOff+4+utf8.RuneCountInString(code)), "empty {{ }}: put a field name inside, like {{ name }}")
		} else if prog := ec.compile(code, s, base, false); prog != nil {
			t.Parts = append(t.Parts, ec.part(prog))
		}
		runeOff = base + utf8.RuneCountInString(code) + 2
		rest = body[closeAt+2:]
	}
	if lit.Len() > 0 {
		t.Parts = append(t.Parts, Part{Kind: PartLiteral, Lit: lit.String()})
	}
	if len(t.Parts) == 1 && t.Parts[0].Kind == PartLiteral {
		return &Template{Src: t.Parts[0].Lit, Static: true}
	}
	return t
}

// part picks a fast path for the two common shapes, {{ field }} and
// {{ title(field) }}, so rendering them runs no expression at all.
func (ec *exprCompiler) part(prog *vm.Program) Part {
	switch n := prog.Node().(type) {
	case *ast.IdentifierNode:
		if fi, ok := ec.p.fieldIndex[n.Value]; ok {
			return Part{Kind: PartField, Field: fi, Prog: prog}
		}
	case *ast.CallNode:
		if c, ok := n.Callee.(*ast.IdentifierNode); ok && c.Value == "title" && len(n.Arguments) == 3 {
			if a, ok := n.Arguments[0].(*ast.IdentifierNode); ok {
				if fi, ok := ec.p.fieldIndex[a.Value]; ok {
					return Part{Kind: PartTitle, Field: fi, Prog: prog}
				}
			}
		}
	}
	return Part{Kind: PartExpr, Prog: prog, Field: None}
}
