package compile

import (
	"regexp"

	"github.com/parleyhq/parley/engine/flow"
)

// compileAnswerRules copies the keys that shape an answer onto the
// compiled fields. A pattern that does not compile was reported by the
// validator; the field then has none.
func (p *Program) compileAnswerRules(f *flow.Flow, ec *exprCompiler) {
	for i, ff := range f.Fields {
		fd := &p.fields[i]
		fd.DateOrder = ff.DateOrder.Value
		fd.Length = ff.Length.Value
		fd.MinLength = ff.MinLength.Value
		if ff.Pattern.IsSet() {
			if re, err := regexp.Compile(`^(?:` + ff.Pattern.Value + `)$`); err == nil {
				fd.Pattern = re
			}
		}
		fd.PatternMessage = ec.text(ff.PatternMessage)
	}
}
