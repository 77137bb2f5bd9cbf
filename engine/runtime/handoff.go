package runtime

import (
	"errors"
	"fmt"

	"github.com/parleyhq/parley/engine/compile"
)

// A hand-off is a state with a lifecycle: it begins with HUMAN (or a
// translation), a handoff: step, or a failed call whose on_fail leads to
// one; while it lasts every message of the customer is kept as a transcript
// line and acknowledged once; it ends when a person hands the conversation
// back to the bot at a step, closes it, or when nobody answered within the
// flow's handoff.timeout (then the bot takes it back at
// on_handoff_timeout, or ends it, and tells the customer which).

// handoff hands the conversation off for reason.
func (t *turn) handoff(reason string) {
	st := t.st
	h := t.p.Handoff()
	st.Flow, st.Version = t.p.ID(), t.p.Version() // also when HUMAN is the first message
	st.Status, st.Pending, st.Attempts = StatusHandedOff, "", 0
	st.Handoff = &Handoff{Reason: reason, Since: t.env.Now, Until: t.env.Now.Add(h.Timeout)}
	t.eff = append(t.eff, Effect{Kind: EffectHandoff, Reason: reason, Notify: h.Notify})
}

// handedOff handles a customer's message while a person has the
// conversation: it is kept for the team and acknowledged once.
func (t *turn) handedOff() {
	st := t.st
	if st.Handoff == nil { // handed off before hand-offs had a lifecycle
		t.handoff(ReasonKeyword)
	}
	if !st.Handoff.Until.IsZero() && !t.env.Now.Before(st.Handoff.Until) {
		t.handoffTimeout()
		return
	}
	text := string(t.in.Text)
	if text == "" {
		text = t.in.Choice
	}
	if text != "" {
		t.transcript(TranscriptCustomer, text)
	}
	if !st.Handoff.Acked {
		st.Handoff.Acked = true
		t.send(KindHandoff, t.w.handoffAck, nil)
	}
}

// transcript keeps one line of the hand-off for the flow's transcript
// retention.
func (t *turn) transcript(from, text string) {
	now := t.env.Now
	h := t.st.Handoff
	h.Lines++
	t.eff = append(t.eff, Effect{Kind: EffectTranscript, Right: from, Field: transcriptLine(h),
		Value: Value{V: text, CollectedAt: now, ExpiresAt: now.Add(t.p.Handoff().TranscriptRetention)}})
}

// endHandoff ends a hand-off in progress (no-op when there is none).
func (t *turn) endHandoff(how string) {
	if t.st.Handoff == nil && t.st.Status != StatusHandedOff {
		return
	}
	t.st.Handoff = nil
	if t.st.Status == StatusHandedOff {
		t.st.Status = StatusNew
	}
	t.eff = append(t.eff, Effect{Kind: EffectHandoffEnd, Reason: how})
}

// handoffTimeout takes the conversation back from the team: the customer
// is told what happens next, and the flow goes on at on_handoff_timeout or
// ends.
func (t *turn) handoffTimeout() {
	t.endHandoff(HandoffTimedOut)
	next := t.p.Handoff().OnTimeout
	if next == compile.None {
		t.send(KindHandoff, t.w.handoffTimeoutEnd, nil)
		t.end()
		return
	}
	t.send(KindHandoff, t.w.handoffTimeoutBack, nil)
	t.run(next)
}

// StaffKind is what a person of the team does with a handed-off
// conversation.
type StaffKind int

const (
	// StaffReply sends Text to the customer.
	StaffReply StaffKind = iota + 1
	// StaffReturn hands the conversation back to the bot at Step.
	StaffReturn
	// StaffClose ends the conversation.
	StaffClose
	// StaffExpire takes the conversation back if its timeout has passed
	// (ErrNotDue otherwise).
	StaffExpire
	// StaffCollect returns the messages waiting for a channel that cannot
	// push (State.Waiting) and clears them; the conversation need not be
	// handed off any more.
	StaffCollect
)

// StaffOp is one action of the team on a conversation.
type StaffOp struct {
	Kind StaffKind
	Text string // StaffReply
	Step string // StaffReturn
}

// Errors of StepStaff.
var (
	// ErrNotHandedOff: the conversation is not (or no longer) handed off.
	ErrNotHandedOff = errors.New("the conversation is not handed off")
	// ErrNoSuchStep: StaffReturn names a step the flow does not have.
	ErrNoSuchStep = errors.New("the flow has no such step")
	// ErrNotDue: StaffExpire before the hand-off's timeout.
	ErrNotDue = errors.New("the hand-off has not timed out")
)

// StepStaff carries out op on the handed-off conversation st of program p,
// like Step does for a customer's message. Replies of the team are
// KindStaff messages; everything said is kept in the transcript.
func StepStaff(p *compile.Program, st *State, op StaffOp, env Env) (Turn, error) {
	if st.Status != StatusHandedOff && op.Kind != StaffCollect {
		return Turn{}, ErrNotHandedOff
	}
	t := turn{p: p, st: st, env: env, envDirty: true}
	t.li = p.LangIndex(st.Lang)
	t.w = wordsFor(st.Lang)
	st.Keep = p.ConversationRetention()
	if st.Handoff == nil && st.Status == StatusHandedOff {
		st.Handoff = &Handoff{Reason: ReasonKeyword, Since: env.Now, Until: env.Now.Add(p.Handoff().Timeout)}
	}
	switch op.Kind {
	case StaffReply:
		t.transcript(TranscriptStaff, op.Text)
		t.send(KindStaff, op.Text, nil)
	case StaffReturn:
		idx, ok := p.StepIndex(op.Step)
		if !ok {
			return Turn{}, fmt.Errorf("%w: %q", ErrNoSuchStep, op.Step)
		}
		t.endHandoff(HandoffReturned)
		st.Flow, st.Version = p.ID(), p.Version()
		t.run(idx)
	case StaffClose:
		t.endHandoff(HandoffClosed)
		t.send(KindHandoff, t.w.handoffClosed, nil)
		t.end()
	case StaffExpire:
		if env.Now.Before(st.Handoff.Until) {
			return Turn{}, ErrNotDue
		}
		t.handoffTimeout()
	case StaffCollect:
		t.out = append(t.out, st.Waiting...)
		st.Waiting = nil
	default:
		return Turn{}, fmt.Errorf("runtime: unknown staff action %d", op.Kind)
	}
	return t.finish(), nil
}

// transcriptLine names line h.Lines of hand-off h: unique, and in the
// order the lines were written.
func transcriptLine(h *Handoff) string {
	return fmt.Sprintf("%019d.%06d", h.Since.UnixNano(), h.Lines)
}
