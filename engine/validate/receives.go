package validate

import (
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// receives checks an integration's receives: list as its sends: list is
// checked: every field is declared and has the integration's purpose (an
// answer is collected for that purpose, so the consent and notice of the
// purpose cover it). A choice cannot be received: its options are what the
// customer picks from, an integration answers with text, numbers or dates.
func (c *Checker) receives(in *flow.Integration) {
	for _, s := range in.Receives {
		fd := c.fields[s.Value]
		switch {
		case fd == nil:
			d := c.add(diag.UnknownSendsField, s.Range, "integration %q receives %q, which is not declared under fields", in.Name.Value, s.Value)
			d.Suggestion = diag.DidYouMean(s.Value, c.fieldNames())
		case in.Purpose.IsSet() && fd.Purpose.IsSet() && fd.Purpose.Value != in.Purpose.Value && c.purposes[in.Purpose.Value] != nil:
			d := c.add(diag.SendsOtherPurpose, s.Range, "integration %q is for purpose %q but receives %q, which is collected for %q", in.Name.Value, in.Purpose.Value, s.Value, fd.Purpose.Value)
			d.Detail = "What an integration answers is collected for the integration's purpose: give the field that purpose, or receive it through an integration declared for " + fd.Purpose.Value + "."
		case fd.Type.Value == flow.TypeChoice:
			d := c.add(diag.InvalidValue, s.Range, "integration %q receives %q, a choice: only the customer answers a choice", in.Name.Value, s.Value)
			d.Detail = "Give the field another type: text, number, date or boolean."
		}
	}
}
