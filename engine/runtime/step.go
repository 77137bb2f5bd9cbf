package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/flow"
)

// Env is what a turn needs from outside: the time, a context and a Caller for
// integrations, and optionally a language to start a new conversation in.
type Env struct {
	Now    time.Time
	Ctx    context.Context
	Caller Caller
	// Lang, when set and declared by the flow, is the language of a new
	// conversation; otherwise Inbound.Lang, then the flow's first language.
	Lang string
	// Subject is the conversation's pseudonymous subject, handed to the
	// Caller with each call.
	Subject string
	// Held, when set, reads what else is held about the subject (scheduled
	// reminders, a hand-off transcript): MY DATA lists it. It is called
	// only for MY DATA.
	Held func() (Held, error)
}

// maxStepsPerTurn bounds the steps one inbound message can run. validate
// rejects loops without a wait, so reaching it means a bug: the turn ends
// the conversation instead of spinning.
const maxStepsPerTurn = 256

// memoryBudget bounds what one expression run may allocate (expr units).
const memoryBudget = 100_000

const (
	pendingConsent = "consent:"
	pendingErase   = "erase"
)

var vmPool = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: memoryBudget} }}

// turn is the working state of one Step call.
type turn struct {
	p    *compile.Program
	st   *State
	in   Inbound
	env  Env
	li   int
	w    *words
	norm string
	out  []Message
	eff  []Effect
	// transient lists fields kept for this turn only.
	transient []string
	exprEnv   map[string]any
	envDirty  bool
	// failedCall is the integration whose failed call sent the turn to
	// its on_fail (a hand-off there names it as the reason).
	failedCall string
}

// Step runs one inbound message through the conversation st of program p.
// It changes st in place and returns what to send and what to record. It
// never fails: problems in the flow were reported when it was compiled, and
// problems of the customer's answers are handled in the conversation.
func Step(p *compile.Program, st *State, in Inbound, env Env) Turn {
	t := turn{p: p, st: st, in: in, env: env, envDirty: true}
	t.out = make([]Message, 0, 2)
	if in.Text != "" {
		t.norm = compile.Normalize(string(in.Text))
	} else {
		t.norm = compile.Normalize(in.Choice)
	}
	// An entry link's start text or an ad's first message starts the
	// conversation again, even one waiting for an answer: the start text
	// is never taken as an answer.
	campaign := in.Campaign
	if campaign == "" {
		campaign = compile.EntryCampaign(string(in.Text))
	}
	fresh := st.Status == StatusNew || st.Status == StatusEnded || st.Flow != p.ID() || st.Lang == "" || campaign != ""
	askLang := false
	if fresh && !strings.HasPrefix(st.Pending, pendingLanguage) {
		st.Lang, askLang = t.pickLang()
		// A new conversation remembers where it came from (an entry
		// link's reference or an ad), never the start text itself.
		st.Campaign = campaign
	}
	t.li = p.LangIndex(st.Lang)
	t.w = wordsFor(st.Lang)
	st.LastInbound = env.Now
	st.Keep = p.ConversationRetention()

	if in.Text != "" {
		if r := p.Keyword(t.norm, t.li); r != compile.RightNone && (r != compile.RightLanguage || len(p.Languages()) > 1) {
			t.right(r, fresh)
			return t.finish()
		}
	}
	switch {
	case strings.HasPrefix(st.Pending, pendingLanguage):
		t.languageAnswer()
	case st.Pending == pendingErase:
		t.eraseAnswer()
	case strings.HasPrefix(st.Pending, pendingConsent):
		t.consentAnswer(st.Pending[len(pendingConsent):])
	case fresh && askLang:
		t.askLanguage(true)
	case fresh:
		t.restart()
	case st.Status == StatusHandedOff:
		// A person is answering: the message is kept for them.
		t.handedOff()
	case st.Status == StatusWaiting:
		t.answer()
	default:
		t.restart()
	}
	return t.finish()
}

// restart begins a new conversation at the start step. Answers held from an
// earlier conversation stay (until they expire); a decline was an answer
// for that conversation only, so the question may be asked again.
func (t *turn) restart() {
	st := t.st
	st.Flow, st.Version = t.p.ID(), t.p.Version()
	st.Status, st.Step, st.Attempts, st.Pending, st.OptedOut = StatusNew, "", 0, "", false
	for k, c := range st.Consent {
		if c == ConsentDeclined {
			delete(st.Consent, k)
		}
	}
	t.run(t.p.Start())
}

func (t *turn) finish() Turn {
	for _, name := range t.transient {
		delete(t.st.Values, name)
	}
	return Turn{Out: t.out, Effects: t.eff}
}

func (t *turn) send(kind MessageKind, text string, opts []Option) {
	t.out = append(t.out, Message{Kind: kind, Text: text, Options: opts})
}

// run executes steps from i until one waits or the conversation ends.
func (t *turn) run(i int) {
	p := t.p
	for n := 0; ; n++ {
		if i == compile.None {
			t.end()
			return
		}
		if n == maxStepsPerTurn {
			t.send(KindSay, t.w.gaveUp, nil)
			t.end()
			return
		}
		s := p.StepAt(i)
		next, stop := runners[s.Kind](t, s)
		if stop {
			return
		}
		i = next
	}
}

// skipTarget is where a step of a declined purpose leads: on past it.
func (t *turn) skipTarget(s *compile.Step) int {
	if s.End {
		return compile.None
	}
	return s.Next
}

type gateResult uint8

const (
	gateOpen gateResult = iota // ask now
	gateWait                   // a consent question was sent and waits
	gateSkip                   // the purpose was declined: skip the step
)

// gate decides whether the ask s may collect its field now. It sends the
// notice at collection (no wait) or the consent question (which waits).
func (t *turn) gate(s *compile.Step) gateResult {
	p, st := t.p, t.st
	fd := p.FieldAt(s.Save)
	if fd.PurposeIndex == compile.None {
		return gateOpen
	}
	pu := p.PurposeAt(fd.PurposeIndex)
	n := t.notice(pu)
	if !pu.NeedsConsent {
		if st.Noticed[pu.Name] != n.Hash {
			t.send(KindNotice, n.Text, nil)
			t.eff = append(t.eff, Effect{Kind: EffectNotice, Purpose: pu.Name, Basis: pu.Basis, NoticeHash: n.Hash})
			setMap(&st.Noticed, pu.Name, n.Hash)
		}
		return gateOpen
	}
	if st.OptedOut {
		return gateSkip
	}
	switch st.Consent[pu.Name] {
	case ConsentGranted:
		if st.Noticed[pu.Name] == n.Hash {
			return gateOpen
		}
	case ConsentDeclined:
		return gateSkip
	}
	t.send(KindConsent, n.Text, t.yesNoOptions())
	setMap(&st.Noticed, pu.Name, n.Hash)
	st.Pending = pendingConsent + pu.Name
	st.Step, st.Status = s.ID, StatusWaiting
	return gateWait
}

func (t *turn) notice(pu *compile.Purpose) compile.Notice {
	if n := pu.Notices[t.li]; n != nil {
		return *n
	}
	return t.p.BuildNotice(pu.Index, t.li, t.render(pu.Description.For(t.li)))
}

func (t *turn) yesNoOptions() []Option {
	return []Option{{ID: "yes", Title: t.w.yes}, {ID: "no", Title: t.w.no}}
}

func (t *turn) options(s *compile.Step) []Option {
	if s.OptionsFrom != compile.None {
		return append([]Option(nil), t.st.Offered...)
	}
	if len(s.Options) == 0 {
		if s.Save != compile.None && t.p.FieldAt(s.Save).Type == flow.TypeBoolean {
			return t.yesNoOptions()
		}
		return nil
	}
	out := make([]Option, len(s.Options))
	for i := range s.Options {
		o := &s.Options[i]
		out[i] = Option{ID: o.ID, Title: t.render(o.Title.For(t.li))}
	}
	return out
}

// consentAnswer handles the answer to the consent question for purpose.
func (t *turn) consentAnswer(purpose string) {
	st, p := t.st, t.p
	pu, ok := p.Purpose(purpose)
	idx, okStep := p.StepIndex(st.Step)
	if !ok || !okStep {
		st.Pending = ""
		t.restart()
		return
	}
	yes, clear := yesNo(t.w, t.in.Choice, t.norm)
	if !clear {
		n := t.notice(pu)
		t.send(KindConsent, t.w.consentUnclear+"\n\n"+n.Text, t.yesNoOptions())
		return
	}
	st.Pending = ""
	hash := st.Noticed[pu.Name]
	e := Effect{Kind: EffectConsent, Purpose: pu.Name, Basis: pu.Basis, Granted: yes, NoticeHash: hash, MessageID: t.in.ID, KeepFor: pu.ConsentProof, Campaign: st.Campaign,
		Reachable: yes && t.p.HasTemplateFor(pu.Name)}
	t.eff = append(t.eff, e)
	if yes {
		setMap(&st.Consent, pu.Name, ConsentGranted)
		t.run(idx)
		return
	}
	setMap(&st.Consent, pu.Name, ConsentDeclined)
	if pu.OnDecline != compile.None {
		t.run(pu.OnDecline)
		return
	}
	t.run(t.skipTarget(p.StepAt(idx)))
}

// answer handles the customer's answer to the waiting ask.
func (t *turn) answer() {
	st, p := t.st, t.p
	idx, ok := p.StepIndex(st.Step)
	if !ok || st.Version != p.Version() && p.StepAt(idx).Kind != compile.StepAsk {
		t.restart()
		return
	}
	s := p.StepAt(idx)
	if s.Kind != compile.StepAsk {
		t.restart()
		return
	}
	if s.Save == compile.None && len(s.Options) == 0 {
		// Nothing saves this answer: it only moves the conversation on and
		// is dropped.
		t.after(s)
		return
	}
	var fd *compile.Field
	var v any
	var valid bool
	if s.OptionsFrom != compile.None {
		// The id of an option an integration answered, saved as text.
		if s.Save != compile.None {
			fd = p.FieldAt(s.Save)
		}
		v, valid = t.pickOffered()
	} else if s.Save == compile.None {
		// A menu that routes: the pick says where to go and is dropped.
		v, valid = matchOption(p, s, t.in, t.norm, t.li)
	} else {
		fd = p.FieldAt(s.Save)
		v, valid = parseAnswer(p, s, fd, t.in, t.norm, t.w, t.li)
	}
	if !valid {
		st.Attempts++
		if st.Attempts >= s.Attempts {
			st.Attempts = 0
			if s.OptionsFrom != compile.None {
				st.Offered = nil
			}
			if s.OnFail != compile.None {
				t.run(s.OnFail)
				return
			}
			t.send(KindSay, t.w.gaveUp, nil)
			t.end()
			return
		}
		t.send(KindRetry, t.retryText(s, fd), t.options(s))
		return
	}
	st.Attempts = 0
	if s.OptionsFrom != compile.None {
		st.Offered = nil // answered: the list is no longer needed
	}
	if fd != nil {
		t.store(fd, v)
	}
	if o := pickedOption(s, v); o != nil && o.Next != compile.None {
		t.run(o.Next)
		return
	}
	t.after(s)
}

// pickedOption returns the option of s whose id is v, or nil.
func pickedOption(s *compile.Step, v any) *compile.Option {
	id, ok := v.(string)
	if !ok {
		return nil
	}
	for i := range s.Options {
		if s.Options[i].ID == id {
			return &s.Options[i]
		}
	}
	return nil
}

func (t *turn) after(s *compile.Step) {
	if s.End {
		t.end()
		return
	}
	t.run(s.Next)
}

// retryText is the text sent after an answer that does not fit: the
// step's retry text, or the engine's own words for the field's type, before
// the question again.
func (t *turn) retryText(s *compile.Step, fd *compile.Field) string {
	if s.Retry != nil {
		return t.render(s.Retry.For(t.li)) + "\n\n" + t.render(s.Text.For(t.li))
	}
	if fd == nil { // a menu that routes
		fd = &compile.Field{Type: flow.TypeChoice}
	}
	msg := t.w.retry[fd.Type]
	if msg == "" {
		msg = t.w.retry[flow.TypeText]
	}
	switch {
	case fd.PatternMessage != nil: // the author's words say what fits
		msg = t.render(fd.PatternMessage.For(t.li))
	case fd.Type == flow.TypeDigits:
		msg += digitCount(t.p, t.li, fd)
	case fd.Type == flow.TypeNumber && fd.HasMin && fd.HasMax:
		msg += " " + sprintf(t.w.between, formatNumber(fd.Min), formatNumber(fd.Max))
	case fd.Type == flow.TypeText && fd.MaxLength > 0:
		msg += " " + sprintf(t.w.atMost, strconv.Itoa(fd.MaxLength))
	}
	return msg + "\n\n" + t.render(s.Text.For(t.li))
}

// store keeps a valid answer: in st.Values, and as an EffectStore unless the
// field is transient.
func (t *turn) store(fd *compile.Field, v any) {
	now := t.env.Now
	val := Value{V: v, CollectedAt: now}
	switch fd.Retention.Kind {
	case flow.RetainFor:
		val.ExpiresAt = now.Add(fd.Retention.For)
		t.eff = append(t.eff, Effect{Kind: EffectStore, Field: fd.Name, Purpose: fd.Purpose, Basis: fd.Basis, Value: val})
	case flow.RetainSession:
		t.eff = append(t.eff, Effect{Kind: EffectStore, Field: fd.Name, Purpose: fd.Purpose, Basis: fd.Basis, Value: val, Session: true})
	case flow.RetainTransient:
		t.transient = append(t.transient, fd.Name)
	}
	setMap(&t.st.Values, fd.Name, val)
	t.envDirty = true
}

// end finishes the conversation; session fields go.
func (t *turn) end() {
	st := t.st
	t.endHandoff(HandoffEnded)
	st.Status, st.Pending, st.Attempts, st.Offered = StatusEnded, "", 0, nil
	t.eff = append(t.eff, Effect{Kind: EffectEnd})
	for name := range st.Values {
		if fd, ok := t.p.Field(name); ok && fd.Retention.Kind == flow.RetainSession {
			delete(st.Values, name)
		}
	}
}

// call runs a call step and returns the next step.
func (t *turn) call(s *compile.Step) int {
	next := s.Next
	if s.End {
		next = compile.None
	}
	if s.Integration == compile.None {
		return next
	}
	in := t.p.IntegrationAt(s.Integration)
	if in.PurposeIndex != compile.None {
		pu := t.p.PurposeAt(in.PurposeIndex)
		if pu.NeedsConsent && (t.st.Consent[pu.Name] != ConsentGranted || t.st.OptedOut) {
			return next // no consent, no sending
		}
	}
	fields := make(map[string]string, len(in.Sends))
	names := make([]string, 0, len(in.Sends))
	for _, name := range in.SendNames {
		if v, ok := t.st.Values[name]; ok {
			fields[name] = formatValue(v.V)
			names = append(names, name)
		}
	}
	ctx := t.env.Ctx
	if ctx == nil {
		ctx = context.TODO()
	}
	var err error
	var reply Reply
	if t.env.Caller == nil {
		err = errNoCaller
	} else {
		reply, err = t.env.Caller.Call(ctx, Call{Integration: *in, Subject: t.env.Subject, Fields: fields})
	}
	e := Effect{Kind: EffectCall, Integration: in.Name, Purpose: in.Purpose, Fields: names}
	if !errors.Is(err, ErrNotSent) {
		// Sent, or it may have been (a timeout can hide a delivery): the
		// integration counts as a recipient of the subject's data.
		e.Target = in
	}
	t.eff = append(t.eff, e)
	var offer []Option
	if err == nil {
		offer, err = offered(in, reply)
	}
	if err == nil {
		err = t.receive(in, reply)
	}
	if err == nil && offer != nil {
		t.st.Offered = offer
	}
	if err != nil && s.OnFail != compile.None {
		t.failedCall = in.Name
		return s.OnFail
	}
	return next
}

// ErrNotSent is wrapped by call errors that guarantee nothing left: the
// integration is then not recorded as a recipient of the subject's data.
var ErrNotSent = errors.New("nothing was sent")

var errNoCaller = fmt.Errorf("runtime: no caller configured for integrations: %w", ErrNotSent)

// cond evaluates a compiled condition; a run-time failure counts as false.
func (t *turn) cond(prog *vm.Program) bool {
	if prog == nil {
		return false
	}
	out, err := t.eval(prog)
	b, _ := out.(bool)
	return err == nil && b
}

func (t *turn) eval(prog *vm.Program) (any, error) {
	if t.envDirty {
		if t.exprEnv == nil {
			t.exprEnv = make(map[string]any, t.p.NumFields()+1)
		}
		held := make(map[string]bool, len(t.st.Values))
		t.exprEnv[compile.HeldKey] = held
		for i := 0; i < t.p.NumFields(); i++ {
			fd := t.p.FieldAt(i)
			if v, ok := t.st.Values[fd.Name]; ok && v.V != nil {
				t.exprEnv[fd.Name] = v.V
				held[fd.Name] = true
			} else {
				t.exprEnv[fd.Name] = fd.Zero
			}
		}
		t.exprEnv[compile.LangKey] = t.st.Lang
		t.exprEnv[compile.TodayKey] = t.env.Now.UTC().Format("2006-01-02")
		t.envDirty = false
	}
	m := vmPool.Get().(*vm.VM)
	out, err := m.Run(prog, t.exprEnv)
	vmPool.Put(m)
	return out, err
}

// render fills a template. A static template is returned as is.
func (t *turn) render(tpl *compile.Template) string {
	if tpl == nil {
		return ""
	}
	if tpl.Static {
		return tpl.Src
	}
	var b strings.Builder
	b.Grow(len(tpl.Src) + 16)
	for i := range tpl.Parts {
		part := &tpl.Parts[i]
		switch part.Kind {
		case compile.PartLiteral:
			b.WriteString(part.Lit)
		case compile.PartField:
			b.WriteString(t.fieldString(part.Field))
		case compile.PartTitle:
			fd := t.p.FieldAt(part.Field)
			if v, ok := t.st.Values[fd.Name]; ok {
				id, _ := v.V.(string)
				b.WriteString(t.p.OptionTitle(part.Field, id, t.li))
			}
		case compile.PartExpr:
			if out, err := t.eval(part.Prog); err == nil {
				b.WriteString(formatValue(out))
			}
		}
	}
	return b.String()
}

func (t *turn) fieldString(i int) string {
	fd := t.p.FieldAt(i)
	v, ok := t.st.Values[fd.Name]
	if !ok {
		return ""
	}
	if b, isBool := v.V.(bool); isBool {
		// The customer's own word, as on the question's buttons, not
		// true or false.
		if b {
			return t.w.yes
		}
		return t.w.no
	}
	return formatValue(v.V)
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return formatNumber(x)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return ""
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func setMap[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = make(map[string]V, 4)
	}
	(*m)[k] = v
}
