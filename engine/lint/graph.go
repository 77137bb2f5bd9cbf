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

// checkHandoffTimeout reports an on_handoff_timeout that hands the
// conversation off again before the customer is asked anything: nobody
// answered the first time, so the customer would wait a second timeout
// for a person who does not come.
func checkHandoffTimeout(l *linter) {
	target := l.f.OnHandoffTimeout
	if !target.IsSet() {
		return
	}
	byID := make(map[string]int, len(l.f.Steps))
	for i, s := range l.f.Steps {
		byID[s.ID.Value] = i
	}
	i, ok := byID[target.Value]
	for seen := map[int]bool{}; ok && !seen[i]; {
		seen[i] = true
		s := l.f.Steps[i]
		switch {
		case s.Handoff != nil:
			l.add(diag.HandoffTimeoutLoops, target.Range, "on_handoff_timeout goes to %q, which hands the conversation off again: nobody answered the first time, so the customer would wait again for nobody; return to a step that helps without a person, or leave on_handoff_timeout out so the conversation ends", s.ID.Value)
			return
		case s.End.Value || s.Ask != nil || s.IsBranch() || s.Call.IsSet():
			return
		case s.Next.IsSet():
			i, ok = byID[s.Next.Value]
		case i+1 < len(l.f.Steps):
			i++
		default:
			return
		}
	}
}
