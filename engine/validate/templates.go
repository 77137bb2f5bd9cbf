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
