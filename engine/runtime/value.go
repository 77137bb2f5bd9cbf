package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/flow"
)

// ErrInvalidValue is returned (wrapped) by ParseValue for a value the field
// would refuse as an answer in chat.
var ErrInvalidValue = errors.New("the new value does not fit the field")

// ParseValue checks text as a value of the named field exactly as an answer
// typed in chat is checked (type, max_length, min and max, options) and
// returns the value to store, normalised the same way. lang picks the
// language of yes/no words and option titles (default: the flow's first).
// It is what rectification uses, so that an operator cannot store what the
// flow itself would refuse. Errors say what the field takes, never the
// value.
func ParseValue(p *compile.Program, field, text, lang string) (any, error) {
	fd, ok := p.Field(field)
	if !ok {
		return nil, fmt.Errorf("flow %q declares no field %q", p.ID(), field)
	}
	li, code := p.LangIndex(lang), ""
	if langs := p.Languages(); li < len(langs) {
		code = langs[li]
	}
	// A choice is matched against the options of every ask that saves the
	// field, as the step that asked it would.
	s := &compile.Step{Options: fd.Options}
	v, ok := parseAnswer(p, s, fd, Inbound{Text: Answer(text)}, compile.Normalize(text), wordsFor(code), li)
	if !ok {
		return nil, fmt.Errorf("%w: %q takes %s", ErrInvalidValue, field, valueShape(fd))
	}
	return v, nil
}

// valueShape says in plain words what a field accepts.
func valueShape(fd *compile.Field) string {
	switch fd.Type {
	case flow.TypeChoice:
		ids := make([]string, len(fd.Options))
		for i := range fd.Options {
			ids[i] = fd.Options[i].ID
		}
		return "one of its options: " + strings.Join(ids, ", ") + " (an id, a title or its number)"
	case flow.TypeBoolean:
		return "yes or no"
	case flow.TypeEmail:
		return "an email address such as name@example.com"
	case flow.TypePhone:
		return "a phone number with its country code, such as +44 7700 900123"
	case flow.TypeNumber:
		switch {
		case fd.HasMin && fd.HasMax:
			return fmt.Sprintf("a number between %s and %s", formatNumber(fd.Min), formatNumber(fd.Max))
		case fd.HasMin:
			return "a number of at least " + formatNumber(fd.Min)
		case fd.HasMax:
			return "a number of at most " + formatNumber(fd.Max)
		}
		return "a number"
	case flow.TypeDate:
		return "a date such as 2025-12-31 or 31/12/2025"
	case flow.TypeDigits:
		if fd.Length > 0 {
			return fmt.Sprintf("exactly %d digits", fd.Length)
		}
		return "digits only"
	case flow.TypeURL:
		return "a web address such as https://example.com"
	}
	if fd.MaxLength > 0 {
		return fmt.Sprintf("text of 1 to %d characters", fd.MaxLength)
	}
	return "text that is not empty"
}
