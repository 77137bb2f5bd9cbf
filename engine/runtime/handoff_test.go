package runtime_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

const handoffFlow = `
parley: 1
id: shop
version: 1
languages: [en, it]
handoff:
  timeout: 4h
  transcript_retention: 7d
  notify: https://team.example/handoffs
on_handoff_timeout: menu
start: menu
fields:
  topic: { type: text, retention: 30d }
integrations:
  orders: { url: "https://orders.example/api" }
steps:
  menu:
    ask: { en: "Hi! What is it about? Write HUMAN for a person.", it: "Ciao! Di cosa si tratta? Scrivi OPERATORE per una persona." }
    save: topic
    next: lookup
  lookup:
    call: orders
    on_fail: person
    next: done
  person:
    handoff: A person will reply here.
  done:
    say: Done.
    end: true
`

func handoffConvo(t *testing.T) *convo {
	return newConvo(t, compileSrc(t, "shop.yaml", handoffFlow))
}

// TestHandoffKeywordLifecycle: HUMAN records why and until when, notifies,
// keeps each later message as a transcript line acknowledged once, and
// rights keywords still answer.
func TestHandoffKeywordLifecycle(t *testing.T) {
	c := handoffConvo(t)
	c.say("hi")
	tr := c.say("HUMAN")
	wantReplies(t, tr, 1, runtime.KindHandoff)
	hs := effects(tr, runtime.EffectHandoff)
	if len(hs) != 1 || hs[0].Reason != runtime.ReasonKeyword || hs[0].Notify != "https://team.example/handoffs" {
		t.Fatalf("hand-off effects %+v", hs)
	}
	h := c.st.Handoff
	if c.st.Status != runtime.StatusHandedOff || h == nil || !h.Since.Equal(t0) || !h.Until.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("state %d, hand-off %+v", c.st.Status, h)
	}
	c.now = t0.Add(time.Hour)
	tr = c.say("my parcel is lost")
	wantReplies(t, tr, 1, runtime.KindHandoff)
	wantContains(t, tr.Out[0].Text, "your message is with our team")
	lines := effects(tr, runtime.EffectTranscript)
	if len(lines) != 1 || lines[0].Right != runtime.TranscriptCustomer || lines[0].Value.V != "my parcel is lost" ||
		!lines[0].Value.ExpiresAt.Equal(c.now.Add(7*24*time.Hour)) {
		t.Fatalf("transcript %+v", lines)
	}
	if tr := c.say("HUMAN"); len(tr.Out) != 0 || len(effects(tr, runtime.EffectTranscript)) != 1 || len(effects(tr, runtime.EffectHandoff)) != 0 {
		t.Errorf("HUMAN again while handed off: replies %q effects %+v", texts(tr), tr.Effects)
	}
	tr = c.say("MY DATA")
	wantReplies(t, tr, 1, runtime.KindRights)
	if c.st.Status != runtime.StatusHandedOff {
		t.Errorf("MY DATA ended the hand-off: status %d", c.st.Status)
	}
}

// TestHandoffTimesOutToDeclaredStep: a message after handoff.timeout is
// answered by the bot, which says nobody could reply and goes on at
// on_handoff_timeout.
func TestHandoffTimesOutToDeclaredStep(t *testing.T) {
	c := handoffConvo(t)
	c.say("hi")
	c.say("HUMAN")
	c.now = t0.Add(4*time.Hour + time.Second)
	tr := c.say("hello?")
	wantReplies(t, tr, 2, runtime.KindHandoff, runtime.KindAsk)
	wantContains(t, tr.Out[0].Text, "nobody from our team could reply in time")
	if ends := effects(tr, runtime.EffectHandoffEnd); len(ends) != 1 || ends[0].Reason != runtime.HandoffTimedOut {
		t.Errorf("end effects %+v", tr.Effects)
	}
	if c.st.Status != runtime.StatusWaiting || c.st.Step != "menu" || c.st.Handoff != nil {
		t.Errorf("after the timeout: status %d step %q hand-off %+v", c.st.Status, c.st.Step, c.st.Handoff)
	}
}

// TestHandoffByFailedIntegrationAndStaff: a failed call whose on_fail hands
// off names the integration; the team's reply, hand-back and close work
// through StepStaff, and the timeout without on_handoff_timeout ends.
func TestHandoffByFailedIntegrationAndStaff(t *testing.T) {
	c := handoffConvo(t)
	c.caller = &fakeCaller{fail: true}
	c.say("hi")
	tr := c.say("a refund")
	if hs := effects(tr, runtime.EffectHandoff); len(hs) != 1 || hs[0].Reason != "integration:orders" {
		t.Fatalf("hand-off effects %+v", tr.Effects)
	}
	env := runtime.Env{Now: t0.Add(time.Minute)}
	tr, err := runtime.StepStaff(c.p, &c.st, runtime.StaffOp{Kind: runtime.StaffReply, Text: "We are on it"}, env)
	if err != nil {
		t.Fatal(err)
	}
	wantReplies(t, tr, 1, runtime.KindStaff)
	if lines := effects(tr, runtime.EffectTranscript); len(lines) != 1 || lines[0].Right != runtime.TranscriptStaff {
		t.Errorf("staff transcript %+v", tr.Effects)
	}
	if _, err := runtime.StepStaff(c.p, &c.st, runtime.StaffOp{Kind: runtime.StaffReturn, Step: "nope"}, env); !errors.Is(err, runtime.ErrNoSuchStep) {
		t.Errorf("return to a missing step: %v", err)
	}
	if _, err := runtime.StepStaff(c.p, &c.st, runtime.StaffOp{Kind: runtime.StaffExpire}, env); !errors.Is(err, runtime.ErrNotDue) {
		t.Errorf("expire before the timeout: %v", err)
	}
	tr, err = runtime.StepStaff(c.p, &c.st, runtime.StaffOp{Kind: runtime.StaffReturn, Step: "done"}, env)
	if err != nil {
		t.Fatal(err)
	}
	wantReplies(t, tr, 1, runtime.KindSay)
	if c.st.Status != runtime.StatusEnded || c.st.Handoff != nil {
		t.Errorf("after hand-back: status %d hand-off %+v", c.st.Status, c.st.Handoff)
	}
	if _, err := runtime.StepStaff(c.p, &c.st, runtime.StaffOp{Kind: runtime.StaffClose}, env); !errors.Is(err, runtime.ErrNotHandedOff) {
		t.Errorf("close after hand-back: %v", err)
	}

	// In Italian, closed by the team.
	c2 := handoffConvo(t)
	c2.lang = "it"
	c2.say("ciao")
	c2.say("OPERATORE")
	tr, err = runtime.StepStaff(c2.p, &c2.st, runtime.StaffOp{Kind: runtime.StaffClose}, env)
	if err != nil {
		t.Fatal(err)
	}
	wantReplies(t, tr, 1, runtime.KindHandoff)
	wantContains(t, tr.Out[0].Text, "chiuso")
	if c2.st.Status != runtime.StatusEnded {
		t.Errorf("after close: status %d", c2.st.Status)
	}
}

// TestHandoffTimeoutWithoutReturnStepEnds: a flow without
// on_handoff_timeout ends the conversation at the default 24h timeout and
// tells the customer so, in their language.
func TestHandoffTimeoutWithoutReturnStepEnds(t *testing.T) {
	p := compileSrc(t, "plain.yaml", `
parley: 1
id: plain
version: 1
languages: [it]
start: hello
steps:
  hello:
    ask: Ciao, scrivi OPERATORE per una persona.
    end: true
`)
	c := newConvo(t, p)
	c.say("ciao")
	c.say("OPERATORE")
	if got := c.st.Handoff.Until.Sub(c.st.Handoff.Since); got != 24*time.Hour {
		t.Fatalf("default timeout %s", got)
	}
	tr, err := runtime.StepStaff(p, &c.st, runtime.StaffOp{Kind: runtime.StaffExpire}, runtime.Env{Now: t0.Add(25 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wantReplies(t, tr, 1, runtime.KindHandoff)
	wantContains(t, tr.Out[0].Text, "nessuno del nostro team")
	if c.st.Status != runtime.StatusEnded || len(effects(tr, runtime.EffectEnd)) != 1 {
		t.Errorf("status %d effects %+v", c.st.Status, tr.Effects)
	}
}
