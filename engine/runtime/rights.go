package runtime

import (
	"strconv"
	"strings"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/flow"
)

// right answers a rights keyword. The conversation keeps its place: the
// question it was waiting for is asked again after the answer.
func (t *turn) right(r compile.Right, fresh bool) {
	switch r {
	case compile.RightMyData:
		t.eff = append(t.eff, Effect{Kind: EffectAccess, Right: AccessMyData, Flow: t.p.ID()})
		t.send(KindRights, t.myData(), nil)
		t.resume(fresh)
	case compile.RightDelete:
		t.send(KindRights, t.w.eraseAsk, t.yesNoOptions())
		t.st.Pending = pendingErase
	case compile.RightStop:
		t.stop()
	case compile.RightPrivacy:
		t.eff = append(t.eff, Effect{Kind: EffectAccess, Right: AccessPrivacy, Flow: t.p.ID()})
		t.send(KindRights, t.privacy(), nil)
		t.resume(fresh)
	case compile.RightLanguage:
		t.askLanguage(false)
	case compile.RightHuman:
		if t.st.Status == StatusHandedOff {
			t.handedOff() // already with the team: one more message for them
			return
		}
		t.send(KindHandoff, t.w.handoff, nil)
		t.handoff(ReasonKeyword)
	}
}

// resume asks again whatever the conversation was waiting for.
func (t *turn) resume(fresh bool) {
	st := t.st
	if fresh || st.Status != StatusWaiting {
		return
	}
	idx, ok := t.p.StepIndex(st.Step)
	if !ok {
		return
	}
	if strings.HasPrefix(st.Pending, pendingConsent) {
		if pu, ok := t.p.Purpose(st.Pending[len(pendingConsent):]); ok {
			t.send(KindConsent, t.notice(pu).Text, t.yesNoOptions())
		}
		return
	}
	st.Pending = ""
	t.run(idx)
}

func (t *turn) eraseAnswer() {
	yes, clear := yesNo(t.w, t.in.Choice, t.norm)
	if !clear {
		t.send(KindRights, t.w.eraseUnclear, t.yesNoOptions())
		return
	}
	st := t.st
	st.Pending = ""
	if !yes {
		t.send(KindRights, t.w.eraseKept, nil)
		t.resume(st.Status != StatusWaiting)
		return
	}
	t.eff = append(t.eff, Effect{Kind: EffectErase})
	lang := st.Lang
	*st = State{Flow: st.Flow, Version: st.Version, Lang: lang, Status: StatusNew, LastInbound: st.LastInbound}
	t.transient = nil
	t.send(KindRights, t.w.eraseDone, nil)
}

// stop withdraws every consent, deletes the answers held on consent and
// ends the conversation.
func (t *turn) stop() {
	st, p := t.st, t.p
	for i := range p.Purposes() {
		pu := p.PurposeAt(i)
		if pu.NeedsConsent {
			t.withdraw(pu)
		}
	}
	st.OptedOut = true
	t.eff = append(t.eff, Effect{Kind: EffectStop})
	t.send(KindRights, t.w.stopDone, nil)
	if st.Status != StatusEnded && st.Status != StatusNew {
		t.end()
	}
	st.Pending = ""
}

// withdraw withdraws a granted consent for pu (recorded like a decision,
// so the vault tells the purpose's recipients) and deletes the answers held
// on it.
func (t *turn) withdraw(pu *compile.Purpose) {
	st, p := t.st, t.p
	if st.Consent[pu.Name] == ConsentGranted {
		t.eff = append(t.eff, Effect{Kind: EffectConsent, Purpose: pu.Name, Basis: pu.Basis, Granted: false,
			NoticeHash: st.Noticed[pu.Name], MessageID: t.in.ID, KeepFor: pu.ConsentProof})
		st.Consent[pu.Name] = ConsentWithdrawn
	}
	for _, fi := range pu.Fields {
		name := p.FieldAt(fi).Name
		if _, held := st.Values[name]; held {
			t.eff = append(t.eff, Effect{Kind: EffectDelete, Field: name, Purpose: pu.Name, Basis: pu.Basis})
			delete(st.Values, name)
			t.envDirty = true
		}
	}
}

// myData lists what is held: each field with its value, purpose and expiry,
// then the consent decisions.
func (t *turn) myData() string {
	st, p, w := t.st, t.p, t.w
	var b strings.Builder
	n := 0
	for i := 0; i < p.NumFields(); i++ {
		fd := p.FieldAt(i)
		v, ok := st.Values[fd.Name]
		if !ok {
			continue
		}
		if n == 0 {
			b.WriteString(w.myDataHead)
		}
		n++
		val := formatValue(v.V)
		if fd.Type == flow.TypeChoice {
			val = p.OptionTitle(i, val, t.li)
		}
		until := w.untilEnd
		if !v.ExpiresAt.IsZero() {
			until = sprintf(w.until, v.ExpiresAt.UTC().Format("2006-01-02"))
		}
		why := fd.Purpose
		if fd.PurposeIndex != compile.None {
			why = t.purposeText(p.PurposeAt(fd.PurposeIndex))
		}
		if low := strings.ToLower(why); !strings.HasPrefix(low, "to ") && !strings.HasPrefix(low, w.forPurpose+" ") {
			why = w.forPurpose + " " + why
		}
		b.WriteString("\n• " + fd.Label(t.li) + ": " + val + " (" + why + ", " + until + ")")
	}
	if n == 0 {
		b.WriteString(w.myDataEmpty)
	}
	t.myHeld(&b)
	head := false
	for i := range p.Purposes() {
		pu := p.PurposeAt(i)
		if !pu.NeedsConsent {
			continue
		}
		if !head {
			b.WriteString("\n" + w.consentHead)
			head = true
		}
		b.WriteString("\n• " + t.purposeText(pu) + ": " + w.consentStates[st.Consent[pu.Name]])
	}
	return b.String()
}

// myHeld adds what the store holds besides the answers: the reminders
// scheduled for the customer and the kept hand-off transcript. A store that
// cannot say leaves them out (the export still lists them).
func (t *turn) myHeld(b *strings.Builder) {
	if t.env.Held == nil {
		return
	}
	h, err := t.env.Held()
	if err != nil {
		return
	}
	w := t.w
	if h.Transcript > 0 {
		until := w.untilEnd
		if !h.TranscriptUntil.IsZero() {
			until = sprintf(w.until, h.TranscriptUntil.UTC().Format("2006-01-02"))
		}
		b.WriteString("\n" + sprintf(w.transcriptItem, strconv.Itoa(h.Transcript), until))
	}
	for i, r := range h.Reminders {
		if i == 0 {
			b.WriteString("\n" + w.remindHead)
		}
		why := r.Purpose
		if r.Flow == t.p.ID() {
			for j := range t.p.Purposes() {
				if pu := t.p.PurposeAt(j); pu.Name == r.Purpose {
					why = t.purposeText(pu)
				}
			}
		}
		b.WriteString("\n" + sprintf(w.remindItem, r.At.UTC().Format("2006-01-02 15:04"), why))
	}
}

// privacy is the full notice: who, which purposes on which basis, what is
// kept for how long, and how to use the rights.
func (t *turn) privacy() string {
	p, w := t.p, t.w
	c := p.Controller()
	lang := t.st.Lang
	var b strings.Builder
	b.WriteString(sprintf(w.privacyHead, c.Name, c.Contact))
	for i := range p.Purposes() {
		pu := p.PurposeAt(i)
		var kept []string
		for _, fi := range pu.Fields {
			fd := p.FieldAt(fi)
			kept = append(kept, fd.Label(t.li)+" "+compile.HumanRetention(fd.Retention, lang))
		}
		basis := compile.HumanBasis(pu.Basis, lang)
		b.WriteString("\n" + sprintf(w.privacyItem, t.purposeText(pu), basis, strings.Join(kept, ", ")))
	}
	b.WriteString("\n" + p.Recipients(lang))
	b.WriteString("\n" + sprintf(w.privacyFoot, c.PrivacyURL))
	return b.String()
}

// purposeText names a purpose to the customer: its description in the
// conversation's language, never its id.
func (t *turn) purposeText(pu *compile.Purpose) string {
	return t.render(pu.Description.For(t.li))
}
