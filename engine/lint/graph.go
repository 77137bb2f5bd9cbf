package lint

import "github.com/parleyhq/parley/engine/diag"

// checkDeadEnds reports steps after which nothing happens: not an end, not a
// hand-off, not a question, and no step to go to. The engine would close the
// conversation without a word; the customer would be left waiting.
func checkDeadEnds(l *linter) {
	steps := l.f.Steps
	for i, s := range steps {
		if s.End.Value || s.Handoff != nil || s.Ask != nil {
			continue
		}
		last := i == len(steps)-1
		switch {
		case s.IsBranch():
			if !s.Else.IsSet() && last {
				l.add(diag.DeadEnd, s.ID.Range, "step %q is a branch without else and nothing follows it: when the condition is false the conversation stops without a word; add else:", s.ID.Value)
			}
		case !s.Next.IsSet() && last:
			l.add(diag.DeadEnd, s.ID.Range, "step %q is the last step and neither ends the conversation nor goes anywhere: add end: true, or next:", s.ID.Value)
		}
	}
}
