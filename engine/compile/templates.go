package compile

import (
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// compileTemplates compiles templates: into the Program. The validator has
// checked purposes and parameters; an unknown parameter is reported here
// only as a safety net and left out, so nothing at run time reads a field
// that does not exist.
func (p *Program) compileTemplates(f *flow.Flow, ds *diag.Diagnostics) {
	for _, ft := range f.Templates {
		t := WhatsAppTemplate{
			Key: ft.Key.Value, Name: ft.ApprovedName(), Language: ft.Language.Value,
			Category: ft.Category.Value, Purpose: ft.Purpose.Value, PurposeIndex: None,
		}
		if pi, ok := p.purposeIndex[t.Purpose]; ok {
			t.PurposeIndex = pi
		}
		for _, s := range ft.Params {
			fx, ok := p.fieldIndex[s.Value]
			if !ok {
				ds.Add(diag.UnknownField, s.Range, "template %q is filled with %q, which is not a declared field", t.Key, s.Value).
					Suggestion = diag.DidYouMean(s.Value, p.fieldNames())
				continue
			}
			t.Params = append(t.Params, fx)
			t.ParamNames = append(t.ParamNames, s.Value)
		}
		p.templates = append(p.templates, t)
	}
}

// compileRemind resolves a remind step's template and the date field and
// offset of its at:. The validator has reported the problems; what is
// left unresolved stays None, and such a step schedules nothing.
func compileRemind(ec *exprCompiler, s *flow.Step, st *Step, _ func(flow.Scalar) int) {
	p := ec.p
	for i, t := range p.templates {
		if t.Key == s.Remind.Value {
			st.Template, st.Purpose = i, t.PurposeIndex
		}
	}
	name, off, err := flow.ParseAt(s.At.Value)
	if err != nil {
		return
	}
	if fx, ok := p.fieldIndex[name]; ok && p.fields[fx].Type == flow.TypeDate {
		st.AtField, st.AtOffset = fx, off
	}
}
