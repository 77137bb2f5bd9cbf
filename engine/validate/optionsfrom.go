package validate

import (
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// optionsFrom checks an ask that offers the options an integration
// answers: the integration declares where its answer holds them
// (receives_options:), the ask has no options of its own, and the pick is
// saved in a text field (the ids come from outside the flow, so no choice
// field can list them). The compiler reports an unknown integration.
func (c *Checker) optionsFrom(s *flow.Step) {
	if !s.OptionsFrom.IsSet() {
		return
	}
	name := s.OptionsFrom.Value
	if in := c.integration(name); in != nil && !in.ReceivesOptions.IsSet() {
		d := c.add(diag.InvalidValue, s.OptionsFrom.Range, "step %q offers the options of integration %q, which declares no receives_options:", s.ID.Value, name)
		d.Detail = "Add receives_options: with the key of its JSON answer that holds the list, such as receives_options: slots."
	}
	if len(s.Options) > 0 {
		c.add(diag.StepShape, s.OptionsFrom.Range, "step %q has both options and options_from: keep one of them (options_from offers what the integration answers)", s.ID.Value)
	}
	switch fd := c.fields[s.Save.Value]; {
	case !s.Save.IsSet():
		c.add(diag.StepShape, s.OptionsFrom.Range, "step %q offers options from %q but saves the pick nowhere: add save: with a text field", s.ID.Value, name)
	case fd != nil && fd.Type.Value != flow.TypeText:
		d := c.add(diag.InvalidValue, s.Save.Range, "step %q saves a pick of options from %q in %q, a %s field: use a text field", s.ID.Value, name, s.Save.Value, fd.Type.Value)
		d.Detail = "The ids come from the integration's answer, so no choice field can list them; the id picked is saved as text."
	}
}

// integration returns the declared integration with the given name, or nil.
func (c *Checker) integration(name string) *flow.Integration {
	for _, in := range c.Flow.Integrations {
		if in.Name.Value == name {
			return in
		}
	}
	return nil
}
