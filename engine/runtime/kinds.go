package runtime

import (
	"time"

	"github.com/parleyhq/parley/engine/compile"
)

// A runner runs one step of its kind: it returns the step to run next, or
// stop when the turn waits for the customer or the conversation stopped.
type runner func(t *turn, s *compile.Step) (next int, stop bool)

// runners holds one runner per compiled step kind (one per kind of
// flow.StepKinds; a test checks none is missing).
var runners = map[compile.StepKind]runner{
	compile.StepGoto:     runGoto,
	compile.StepSay:      runSay,
	compile.StepAsk:      runAsk,
	compile.StepBranch:   runBranch,
	compile.StepCall:     runCall,
	compile.StepHandoff:  runHandoff,
	compile.StepForget:   runForget,
	compile.StepWithdraw: runWithdraw,
	compile.StepRemind:   runRemind,
}

// onward is where a step that does not wait goes when it is done.
func onward(s *compile.Step) (int, bool) {
	if s.End {
		return compile.None, false // run ends the conversation
	}
	return s.Next, false
}

func runGoto(_ *turn, s *compile.Step) (int, bool) { return onward(s) }

func runSay(t *turn, s *compile.Step) (int, bool) {
	t.send(KindSay, t.render(s.Text.For(t.li)), nil)
	return onward(s)
}

func runAsk(t *turn, s *compile.Step) (int, bool) {
	st := t.st
	if s.Save != compile.None {
		switch t.gate(s) {
		case gateWait:
			return 0, true // the consent question waits for its answer
		case gateSkip:
			return t.skipTarget(s), false
		}
	}
	if s.OptionsFrom != compile.None && len(st.Offered) == 0 {
		// Its integration offered nothing (the call failed or did not
		// run): nothing to pick, go on as after a failed question.
		if s.OnFail != compile.None {
			return s.OnFail, false
		}
		return onward(s)
	}
	if st.Step != s.ID {
		st.Attempts = 0
	}
	st.Step, st.Status = s.ID, StatusWaiting
	t.send(KindAsk, t.render(s.Text.For(t.li)), t.options(s))
	return 0, true
}

func runBranch(t *turn, s *compile.Step) (int, bool) {
	next := s.Else
	if t.cond(s.Cond) {
		next = s.Then
	}
	if next == compile.None {
		next = s.Next
	}
	return next, false
}

func runCall(t *turn, s *compile.Step) (int, bool) { return t.call(s), false }

func runHandoff(t *turn, s *compile.Step) (int, bool) {
	t.send(KindHandoff, t.render(s.Text.For(t.li)), nil)
	reason := "step:" + s.ID
	if t.failedCall != "" {
		reason = "integration:" + t.failedCall // a call's on_fail led here
	}
	t.handoff(reason)
	t.st.Step = s.ID
	return 0, true
}

// runForget drops the answers the step names, stored or not. A purpose
// on consent that then holds no answer at all has its consent
// withdrawn as well: nothing is left that it was given for.
func runForget(t *turn, s *compile.Step) (int, bool) {
	st, p := t.st, t.p
	touched := make([]int, 0, len(s.Forget))
	for _, fi := range s.Forget {
		fd := p.FieldAt(fi)
		if _, held := st.Values[fd.Name]; !held {
			continue
		}
		t.eff = append(t.eff, Effect{Kind: EffectDelete, Field: fd.Name, Purpose: fd.Purpose, Basis: fd.Basis})
		delete(st.Values, fd.Name)
		t.envDirty = true
		if fd.PurposeIndex != compile.None {
			touched = append(touched, fd.PurposeIndex)
		}
	}
	for _, pi := range touched {
		pu := p.PurposeAt(pi)
		if !pu.NeedsConsent || t.holds(pu) {
			continue
		}
		t.withdraw(pu)
	}
	return onward(s)
}

// runWithdraw withdraws the consent for the step's purpose, as if the
// customer had asked for it: the answers held on it go and recipients with
// on_stop are told.
func runWithdraw(t *turn, s *compile.Step) (int, bool) {
	if s.Purpose != compile.None {
		t.withdraw(t.p.PurposeAt(s.Purpose))
	}
	return onward(s)
}

// runRemind schedules the step's template at the time its at: reads from
// a date field. Nothing is scheduled when the date is not held, the time
// has passed, or the template's purpose needs a consent the customer has
// not given (or took back with STOP): a reminder is sent only under its
// purpose. The host records the schedule; the message is rendered from
// the fields held when it is due.
func runRemind(t *turn, s *compile.Step) (int, bool) {
	if s.Template == compile.None || s.AtField == compile.None {
		return onward(s)
	}
	tpl := t.p.Templates()[s.Template]
	if s.Purpose != compile.None {
		pu := t.p.PurposeAt(s.Purpose)
		if pu.NeedsConsent && (t.st.OptedOut || t.st.Consent[pu.Name] != ConsentGranted) {
			return onward(s)
		}
	}
	fd := t.p.FieldAt(s.AtField)
	v, held := t.st.Values[fd.Name]
	day, ok := v.V.(string)
	if !held || !ok {
		return onward(s)
	}
	d, err := time.Parse("2006-01-02", day)
	if err != nil {
		return onward(s)
	}
	at := d.Add(s.AtOffset)
	if !at.After(t.env.Now) {
		return onward(s)
	}
	t.eff = append(t.eff, Effect{Kind: EffectRemind, Template: tpl.Key, Purpose: tpl.Purpose, At: at, Until: v.ExpiresAt})
	return onward(s)
}

// holds reports whether the conversation holds an answer of purpose pu.
func (t *turn) holds(pu *compile.Purpose) bool {
	for _, fi := range pu.Fields {
		if _, ok := t.st.Values[t.p.FieldAt(fi).Name]; ok {
			return true
		}
	}
	return false
}
