package validate

import (
	"fmt"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// checkTemplates checks the message templates as integrations' sends: are
// checked: the purpose is declared, every parameter is a declared field
// collected for the template's purpose (a template is data leaving the
// conversation for that purpose), and a marketing template rests on
// consent, so it only reaches customers who opted in.
func checkTemplates(c *Checker) {
	for _, t := range c.Flow.Templates {
		what := fmt.Sprintf("template %q", t.Key.Value)
		c.purposeRef(t.Purpose, what)
		p := c.purposes[t.Purpose.Value]
		if p != nil && t.Category.Value == flow.CategoryMarketing && p.Basis.IsSet() && p.Basis.Value != flow.BasisConsent {
			d := c.add(diag.MarketingTemplate, t.Category.Range, "template %q is marketing, but its purpose %q has basis %s: marketing goes only to customers who consented", t.Key.Value, p.Name.Value, p.Basis.Value)
			d.Detail = "Give the template a purpose with basis consent (a newsletter, offers), or use category utility for a message about something the customer asked for."
		}
		for _, s := range t.Params {
			fd := c.fields[s.Value]
			switch {
			case fd == nil:
				d := c.add(diag.UnknownField, s.Range, "template %q is filled with %q, which is not declared under fields", t.Key.Value, s.Value)
				d.Suggestion = diag.DidYouMean(s.Value, c.fieldNames())
			case p != nil && fd.Purpose.IsSet() && fd.Purpose.Value != p.Name.Value:
				d := c.add(diag.TemplateParam, s.Range, "template %q is sent for purpose %q but is filled with %q, which is collected for %q", t.Key.Value, p.Name.Value, s.Value, fd.Purpose.Value)
				d.Detail = "List only fields of purpose " + p.Name.Value + " under params:, or give the template the purpose " + fd.Purpose.Value + "."
			}
		}
	}
}

// remindShape checks a remind step: it names a declared template, and its
// at: is a date field of the template's purpose (the field decides when a
// message goes out for that purpose) plus or minus durations.
func (c *Checker) remindShape(s *flow.Step) {
	t := c.Flow.TemplateByName(s.Remind.Value)
	if s.Remind.IsSet() && t == nil {
		var names []string
		for _, t := range c.Flow.Templates {
			names = append(names, t.Key.Value)
		}
		d := c.add(diag.UnknownTemplate, s.Remind.Range, "step %q reminds with template %q, which is not declared under templates", s.ID.Value, s.Remind.Value)
		d.Suggestion = diag.DidYouMean(s.Remind.Value, names)
		if len(names) == 0 {
			d.Detail = "Declare the approved template under templates: with its language, category, purpose and params."
		}
	}
	if !s.At.IsSet() {
		return
	}
	name, _, err := flow.ParseAt(s.At.Value)
	if err != nil {
		c.add(diag.InvalidValue, s.At.Range, "at of step %q: %v", s.ID.Value, err)
		return
	}
	fd := c.fields[name]
	switch {
	case fd == nil:
		d := c.add(diag.UnknownField, s.At.Range, "at of step %q counts from %q, which is not declared under fields", s.ID.Value, name)
		d.Suggestion = diag.DidYouMean(name, c.fieldNames())
	case fd.Type.IsSet() && fd.Type.Value != flow.TypeDate:
		c.add(diag.InvalidValue, s.At.Range, "at of step %q counts from %q, a %s: a reminder counts from a date field", s.ID.Value, name, fd.Type.Value)
	case t != nil && fd.Purpose.IsSet() && t.Purpose.IsSet() && fd.Purpose.Value != t.Purpose.Value:
		d := c.add(diag.TemplateParam, s.At.Range, "step %q sends template %q for purpose %q at a time read from %q, which is collected for %q", s.ID.Value, t.Key.Value, t.Purpose.Value, name, fd.Purpose.Value)
		d.Detail = "A reminder's time is data used for the template's purpose: count from a date field of purpose " + t.Purpose.Value + "."
	}
}
