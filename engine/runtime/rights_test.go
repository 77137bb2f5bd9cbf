package runtime_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

// atEmail brings a booking conversation to the email question.
func atEmail(t *testing.T) *convo {
	c := newConvo(t, loadFile(t, "../../flows/booking.yaml"))
	c.say("hi")
	c.say("yes")
	c.say("Ada")
	if c.st.Step != "ask_email" {
		t.Fatalf("at %q, want ask_email", c.st.Step)
	}
	return c
}

func TestMyDataKeepsThePendingQuestion(t *testing.T) {
	c := atEmail(t)
	tr := c.say("my data")
	wantReplies(t, tr, 2, runtime.KindRights, runtime.KindAsk)
	// Purposes are named by their description, never by their id.
	wantContains(t, tr.Out[0].Text, "name: Ada (to book your appointment and send you its confirmation, until 2025-03-31)",
		"\n• to book your appointment and send you its confirmation: given")
	if strings.Contains(tr.Out[0].Text, "booking") {
		t.Errorf("MY DATA names a purpose by its id: %q", tr.Out[0].Text)
	}
	wantContains(t, tr.Out[1].Text, "What's your email")
	// Only the access itself, for the audit log: no content, no store.
	if len(tr.Effects) != 1 || !reflect.DeepEqual(tr.Effects[0], runtime.Effect{Kind: runtime.EffectAccess, Right: runtime.AccessMyData, Flow: "booking"}) {
		t.Errorf("MY DATA had effects %+v, want one EffectAccess my_data", tr.Effects)
	}
	tr = c.say("ada@example.com")
	wantReplies(t, tr, 1, runtime.KindAsk)
	if c.st.Values["email"].V != "ada@example.com" {
		t.Error("conversation lost its place after MY DATA")
	}
}

func TestMyDataWhilePendingConsent(t *testing.T) {
	c := newConvo(t, loadFile(t, "../../flows/booking.yaml"))
	c.say("hi")
	tr := c.say("MY DATA")
	wantReplies(t, tr, 2, runtime.KindRights, runtime.KindConsent)
	wantContains(t, tr.Out[0].Text, "We hold no answers", "to book your appointment and send you its confirmation: not asked yet")
}

func TestDeleteMyData(t *testing.T) {
	c := atEmail(t)
	tr := c.say("Delete my data")
	wantReplies(t, tr, 1, runtime.KindRights)
	if c.st.Pending != "erase" || len(tr.Out[0].Options) != 2 {
		t.Fatalf("pending %q options %+v", c.st.Pending, tr.Out[0].Options)
	}
	tr = c.say("hmm")
	wantReplies(t, tr, 1, runtime.KindRights)
	tr = c.say("yes")
	wantReplies(t, tr, 1, runtime.KindRights)
	if len(effects(tr, runtime.EffectErase)) != 1 {
		t.Errorf("effects %+v, want an erase", tr.Effects)
	}
	if len(c.st.Values) != 0 || len(c.st.Consent) != 0 || c.st.Status != runtime.StatusNew {
		t.Errorf("state not reset: %+v", c.st)
	}
	tr = c.say("hi")
	wantReplies(t, tr, 2, runtime.KindSay, runtime.KindConsent)
}

func TestDeleteMyDataNo(t *testing.T) {
	c := atEmail(t)
	c.say("DELETE MY DATA")
	tr := c.tap("no")
	wantReplies(t, tr, 2, runtime.KindRights, runtime.KindAsk)
	if len(tr.Effects) != 0 || c.st.Values["name"].V != "Ada" {
		t.Errorf("refused erase changed things: %+v", tr.Effects)
	}
}

func TestStopWithdrawsAndDeletes(t *testing.T) {
	c := atEmail(t)
	tr := c.say("stop")
	wantReplies(t, tr, 1, runtime.KindRights)
	ce := effects(tr, runtime.EffectConsent)
	if len(ce) != 1 || ce[0].Granted || ce[0].Purpose != "booking" {
		t.Errorf("consent effects %+v, want one withdrawal", ce)
	}
	if d := effects(tr, runtime.EffectDelete); len(d) != 1 || d[0].Field != "name" {
		t.Errorf("delete effects %+v, want name", d)
	}
	if !c.st.OptedOut || len(c.st.Values) != 0 || c.st.Consent["booking"] != runtime.ConsentWithdrawn {
		t.Errorf("state after STOP: %+v", c.st)
	}
	if s := effects(tr, runtime.EffectStop); len(s) != 1 {
		t.Errorf("stop effects %+v, want one (it tells the recipients)", s)
	}
}

func TestPrivacyKeyword(t *testing.T) {
	c := atEmail(t)
	tr := c.say("Privacy")
	wantReplies(t, tr, 2, runtime.KindRights, runtime.KindAsk)
	wantContains(t, tr.Out[0].Text, "Smile Dental Ltd", "privacy@smile.example", "to book your appointment", "consent", "for 30 days", "https://smile.example/privacy")
}

func TestHumanKeyword(t *testing.T) {
	c := atEmail(t)
	tr := c.say("HUMAN")
	wantReplies(t, tr, 1, runtime.KindHandoff)
	if len(effects(tr, runtime.EffectHandoff)) != 1 || c.st.Status != runtime.StatusHandedOff {
		t.Errorf("status %d effects %+v", c.st.Status, tr.Effects)
	}
	// Rights still work during a hand-off.
	tr = c.say("my data")
	wantReplies(t, tr, 1, runtime.KindRights)
}

func TestItalianKeywordsAndAccents(t *testing.T) {
	p := loadFile(t, "testdata/kinds.yaml")
	for _, tc := range []struct {
		in   string
		kind runtime.MessageKind
	}{
		{"I miei dati", runtime.KindRights},
		{"cancella i miei dati!", runtime.KindRights},
		{"OPERATORE", runtime.KindHandoff},
		{"stop", runtime.KindRights},
	} {
		c := newConvo(t, p)
		c.lang = "it"
		c.say("ciao")
		tr := c.say(tc.in)
		if len(tr.Out) == 0 || tr.Out[0].Kind != tc.kind {
			t.Errorf("%q: replies %q, want kind %d first", tc.in, texts(tr), tc.kind)
		}
	}
}

func TestKeywordOverrides(t *testing.T) {
	p := compileSrc(t, "k.yaml", `parley: 1
id: k
version: 1
keywords:
  human: "talk to someone, agente"
steps:
  a:
    ask: Q
  b:
    say: done
`)
	c := newConvo(t, p)
	c.say("hi")
	if tr := c.say("Talk to   someone"); len(tr.Out) != 1 || tr.Out[0].Kind != runtime.KindHandoff {
		t.Errorf("override keyword: %q", texts(tr))
	}
	// A keyword must be the whole message.
	c = newConvo(t, p)
	c.say("hi")
	if tr := c.say("I want to stop smoking"); slices.ContainsFunc(tr.Out, func(m runtime.Message) bool { return m.Kind == runtime.KindRights }) {
		t.Errorf("keyword matched inside a sentence: %q", texts(tr))
	}
}
