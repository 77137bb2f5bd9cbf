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
