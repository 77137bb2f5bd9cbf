package compile

import (
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// kindUnit is how one kind of flow.StepKinds compiles: its compiled kind
// and the function that fills in what only that kind has. target resolves
// a step reference (reporting an unknown one).
type kindUnit struct {
	kind    StepKind
	compile func(ec *exprCompiler, s *flow.Step, st *Step, target func(flow.Scalar) int)
}

// stepKinds holds one unit per kind of flow.StepKinds (a test checks none
// is missing), keyed by the kind's name.
var stepKinds = map[string]kindUnit{
	flow.KindGoto:     {kind: StepGoto},
	flow.KindSay:      {StepSay, compileSay},
	flow.KindAsk:      {StepAsk, compileAsk},
	flow.KindIf:       {StepBranch, compileIf},
	flow.KindCall:     {StepCall, compileCall},
	flow.KindHandoff:  {StepHandoff, compileHandoff},
	flow.KindForget:   {StepForget, compileForget},
	flow.KindWithdraw: {StepWithdraw, compileWithdraw},
	flow.KindRemind:   {StepRemind, compileRemind},
}

func compileSay(ec *exprCompiler, s *flow.Step, st *Step, _ func(flow.Scalar) int) {
	st.Text = ec.text(s.Say)
}

// compileAsk compiles the question, its retry text, the field it saves and
// its options (a routing option keeps the step it goes to).
func compileAsk(ec *exprCompiler, s *flow.Step, st *Step, target func(flow.Scalar) int) {
	p, ds := ec.p, ec.ds
	st.Text = ec.text(s.Ask)
	st.Retry = ec.text(s.Retry)
	if s.Save.IsSet() {
		if fx, ok := p.fieldIndex[s.Save.Value]; ok {
			st.Save = fx
			st.Purpose = p.fields[fx].PurposeIndex
		} else {
			ds.Add(diag.UnknownField, s.Save.Range, "step %q saves %q, which is not a declared field", st.ID, s.Save.Value).
				Suggestion = diag.DidYouMean(s.Save.Value, p.fieldNames())
		}
	}
	if s.OptionsFrom.IsSet() {
		st.OptionsFrom = ec.integration(s.OptionsFrom)
	}
	for _, o := range s.Options {
		opt := Option{ID: o.ID.Value, Title: ec.text(o.Title), Next: target(o.Next)}
		for li := range p.langs {
			n := ""
			if t := opt.Title.For(li); t != nil && t.Static {
				n = Normalize(t.Src)
			}
			opt.Norm = append(opt.Norm, n)
		}
		st.Options = append(st.Options, opt)
		if st.Save != None {
			fd := &p.fields[st.Save]
			if !hasOption(fd.Options, opt.ID) {
				fd.Options = append(fd.Options, opt)
			}
		}
	}
}

func compileIf(ec *exprCompiler, s *flow.Step, st *Step, _ func(flow.Scalar) int) {
	st.Cond = ec.condition(s.If)
}

func compileCall(ec *exprCompiler, s *flow.Step, st *Step, _ func(flow.Scalar) int) {
	if ii := ec.integration(s.Call); ii != None {
		st.Integration = ii
		st.Purpose = ec.p.integrations[ii].PurposeIndex
	}
}

// integration resolves a named integration (call:, options_from:),
// reporting an unknown one; None when there is none.
func (ec *exprCompiler) integration(name flow.Scalar) int {
	if ii, ok := ec.p.intIndex[name.Value]; ok {
		return ii
	}
	ec.ds.Add(diag.UnknownIntegration, name.Range, "there is no integration %q", name.Value).
		Suggestion = diag.DidYouMean(name.Value, keys(ec.p.intIndex))
	return None
}

func compileHandoff(ec *exprCompiler, s *flow.Step, st *Step, _ func(flow.Scalar) int) {
	st.Text = ec.text(s.Handoff)
}

func compileForget(ec *exprCompiler, s *flow.Step, st *Step, _ func(flow.Scalar) int) {
	p := ec.p
	for _, fs := range s.Forget {
		if fx, ok := p.fieldIndex[fs.Value]; ok {
			st.Forget = append(st.Forget, fx)
			continue
		}
		ec.ds.Add(diag.UnknownField, fs.Range, "step %q forgets %q, which is not a declared field", st.ID, fs.Value).
			Suggestion = diag.DidYouMean(fs.Value, p.fieldNames())
	}
}

func compileWithdraw(ec *exprCompiler, s *flow.Step, st *Step, _ func(flow.Scalar) int) {
	if pi, ok := ec.p.purposeIndex[s.Withdraw.Value]; ok {
		st.Purpose = pi
		return
	}
	ec.ds.Add(diag.UnknownPurpose, s.Withdraw.Range, "step %q withdraws %q, which is not a declared purpose", st.ID, s.Withdraw.Value)
}
