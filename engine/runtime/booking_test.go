package runtime_test

import (
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

func TestBookingConversation(t *testing.T) {
	p := loadFile(t, "../../flows/booking.yaml")
	c := newConvo(t, p)

	tr := c.say("hi")
	wantReplies(t, tr, 2, runtime.KindSay, runtime.KindConsent)
	consent := tr.Out[1]
	wantContains(t, consent.Text, "Smile Dental Ltd", "to book your appointment", "name, email and date", "30 days", "https://smile.example/privacy")
	if len(consent.Options) != 2 || consent.Options[0].ID != "yes" || consent.Options[1].ID != "no" || consent.Options[0].Title != "Yes" {
		t.Errorf("consent options = %+v, want Yes/No", consent.Options)
	}
	if c.st.Pending != "consent:booking" || len(tr.Effects) != 0 {
		t.Errorf("pending %q effects %+v, want consent:booking and no effects", c.st.Pending, tr.Effects)
	}

	tr = c.say("YES")
	wantReplies(t, tr, 1, runtime.KindAsk)
	wantContains(t, tr.Out[0].Text, "What's your name?")
	ce := effects(tr, runtime.EffectConsent)
	if len(ce) != 1 || !ce[0].Granted || ce[0].Purpose != "booking" || len(ce[0].NoticeHash) != 64 || ce[0].MessageID == "" {
		t.Errorf("consent effects = %+v", ce)
	}

	tr = c.say("Ada")
	wantReplies(t, tr, 1, runtime.KindAsk)
	wantContains(t, tr.Out[0].Text, "Thanks Ada!")
	st := effects(tr, runtime.EffectStore)
	if len(st) != 1 || st[0].Field != "name" || st[0].Value.V != "Ada" || !st[0].Value.ExpiresAt.Equal(t0.AddDate(0, 0, 30)) || !st[0].Value.CollectedAt.Equal(t0) {
		t.Errorf("store effects = %+v", st)
	}

	tr = c.say("not-an-email")
	wantReplies(t, tr, 1, runtime.KindRetry)
	wantContains(t, tr.Out[0].Text, "doesn't look like an email")
	if len(tr.Effects) != 0 {
		t.Errorf("an invalid answer produced effects %+v", tr.Effects)
	}

	tr = c.say("ada@Example.COM")
	wantReplies(t, tr, 1, runtime.KindAsk)
	if len(tr.Out[0].Options) != 3 || tr.Out[0].Options[1].Title != "Tue 8 Dec, 14:00" {
		t.Errorf("date options = %+v", tr.Out[0].Options)
	}

	tr = c.say("2")
	wantReplies(t, tr, 1, runtime.KindSay)
	wantContains(t, tr.Out[0].Text, "All set, Ada", "Tue 8 Dec, 14:00", "ada@example.com")
	if len(effects(tr, runtime.EffectEnd)) != 1 || c.st.Status != runtime.StatusEnded {
		t.Errorf("conversation not ended: status %d effects %+v", c.st.Status, tr.Effects)
	}
	if v := c.st.Values["date"].V; v != "tue" {
		t.Errorf("date = %v, want tue", v)
	}
}

func TestBookingDecline(t *testing.T) {
	p := loadFile(t, "../../flows/booking.yaml")
	c := newConvo(t, p)
	c.say("hi")
	tr := c.say("NO")
	wantReplies(t, tr, 1, runtime.KindSay)
	wantContains(t, tr.Out[0].Text, "No problem")
	ce := effects(tr, runtime.EffectConsent)
	if len(ce) != 1 || ce[0].Granted {
		t.Errorf("consent effects = %+v, want one refusal", ce)
	}
	if len(effects(tr, runtime.EffectStore)) != 0 || len(c.st.Values) != 0 {
		t.Errorf("something was stored after a refusal: %+v", tr.Effects)
	}
	if c.st.Status != runtime.StatusEnded {
		t.Errorf("status %d, want ended", c.st.Status)
	}
}

// BenchmarkStep drives the six-turn booking conversation; ns/op and
// allocs/op are per turn.
func BenchmarkStep(b *testing.B) {
	p := loadFile(b, "../../flows/booking.yaml")
	script := []runtime.Inbound{
		{Text: "hi"}, {Text: "YES"}, {Text: "Ada"}, {Text: "not-an-email"}, {Text: "ada@example.com"}, {Text: "2"},
	}
	env := runtime.Env{Now: t0, Ctx: b.Context()}
	var st runtime.State
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i%len(script) == 0 {
			st = runtime.State{}
		}
		tr := runtime.Step(p, &st, script[i%len(script)], env)
		if len(tr.Out) == 0 {
			b.Fatal("no reply")
		}
		i++
	}
}

// TestEntryLinkStartsAgainAndGoesWithTheConsent: a start text carrying a
// campaign reference starts the conversation (even one waiting for a name,
// whose answer it never becomes) and the consent given then carries the
// campaign; a later plain start carries none.
func TestEntryLinkStartsAgainAndGoesWithTheConsent(t *testing.T) {
	p := loadFile(t, "../../flows/booking.yaml")
	c := newConvo(t, p)
	c.say("hi")
	c.say("YES")
	tr := c.say("Hi (ref: spring-24)")
	if len(effects(tr, runtime.EffectStore)) != 0 {
		t.Fatalf("the start text was stored as an answer: %+v", tr.Effects)
	}
	wantReplies(t, tr, 2, runtime.KindSay, runtime.KindAsk)
	wantContains(t, tr.Out[1].Text, "What's your name?")
	if c.st.Campaign != "spring-24" {
		t.Errorf("campaign %q, want spring-24", c.st.Campaign)
	}
	c2 := newConvo(t, p)
	c2.say("Hi (ref: spring-24)")
	if ce := effects(c2.say("YES"), runtime.EffectConsent); len(ce) != 1 || ce[0].Campaign != "spring-24" {
		t.Errorf("consent effects %+v, want one carrying spring-24", ce)
	}
	c3 := newConvo(t, p)
	c3.send(runtime.Inbound{ID: "w1", Text: "hello", Campaign: "ad:120208"})
	if ce := effects(c3.say("YES"), runtime.EffectConsent); len(ce) != 1 || ce[0].Campaign != "ad:120208" {
		t.Errorf("consent after an ad: %+v, want ad:120208", ce)
	}
	c3.say("Ada")
	c3.say("ada@example.com")
	c3.say("2")
	c3.say("hi")
	if c3.st.Campaign != "" {
		t.Errorf("a plain restart kept campaign %q", c3.st.Campaign)
	}
}
