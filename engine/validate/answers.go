package validate

import (
	"regexp"
	"strings"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// answerRules checks the keys that shape an answer (issue 11, item 4):
// length, min_length, date_order, pattern and pattern_message each apply
// to some field types only, and must agree with each other.
func (c *Checker) answerRules(fd *flow.Field) {
	t, name := fd.Type.Value, fd.Name.Value
	only := func(key string, r diag.Range, types ...string) {
		for _, ok := range types {
			if t == ok {
				return
			}
		}
		c.add(diag.InvalidValue, r, "%s only applies to %s fields, and %q is a %s field", key, strings.Join(types, " and "), name, t)
	}
	if fd.Length.IsSet() {
		only("length", fd.Length.Range, flow.TypeDigits)
		if fd.MinLength.IsSet() || fd.MaxLength.IsSet() {
			c.add(diag.InvalidValue, fd.Length.Range, "field %q has length and also min_length or max_length: use length for an exact number of digits, or min_length and max_length for a range", name)
		}
	}
	if fd.MinLength.IsSet() {
		only("min_length", fd.MinLength.Range, flow.TypeText, flow.TypeDigits)
		if fd.MaxLength.IsSet() && fd.MinLength.Value > fd.MaxLength.Value {
			c.add(diag.InvalidValue, fd.MaxLength.Range, "max_length of field %q is smaller than its min_length", name)
		}
	}
	if fd.DateOrder.IsSet() {
		only("date_order", fd.DateOrder.Range, flow.TypeDate)
	}
	if fd.Pattern.IsSet() {
		only("pattern", fd.Pattern.Range, flow.TypeText, flow.TypeDigits)
		if _, err := regexp.Compile(fd.Pattern.Value); err != nil {
			c.add(diag.InvalidValue, fd.Pattern.Range, "pattern of field %q is not a valid regular expression: %s", name, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		if fd.PatternMessage == nil {
			c.add(diag.InvalidValue, fd.Pattern.Range, "field %q has a pattern but no pattern_message: add one that tells the customer what to send, such as \"Please send the 4 digits at the end of your card\"", name)
		}
	} else if fd.PatternMessage != nil {
		c.add(diag.InvalidValue, fd.Range, "field %q has a pattern_message but no pattern: add the pattern the answer must match, or remove the message", name)
	}
}
