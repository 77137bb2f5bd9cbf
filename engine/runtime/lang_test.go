package runtime_test

import (
	"slices"
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

// menu runs the complete example of docs/language.md's "A menu,
// forgetting and withdrawing", so the docs show a flow that works as told.
func menu(t testing.TB) *convo {
	c := newConvo(t, docsFlow(t, "A menu, forgetting and withdrawing"))
	c.caller = &fakeCaller{}
	return c
}

// noPersonalData fails when a turn stored, noticed or asked consent for
// anything.
func noPersonalData(t *testing.T, tr runtime.Turn) {
	t.Helper()
	for _, k := range []runtime.EffectKind{runtime.EffectStore, runtime.EffectNotice, runtime.EffectConsent} {
		if e := effects(tr, k); len(e) > 0 {
			t.Errorf("a menu answer caused %+v", e)
		}
	}
	for _, m := range tr.Out {
		if m.Kind == runtime.KindNotice || m.Kind == runtime.KindConsent {
			t.Errorf("a menu answer caused a %d message %q", m.Kind, m.Text)
		}
	}
}

func TestMenuRoutesWithoutSaving(t *testing.T) {
	c := menu(t)
	tr := c.say("hi")
	wantReplies(t, tr, 1, runtime.KindAsk)
	if ids := optionIDs(tr.Out[0]); !slices.Equal(ids, []string{"book", "hours", "news"}) {
		t.Errorf("menu options %v", ids)
	}
	noPersonalData(t, tr)

	tr = c.tap("hours")
	wantReplies(t, tr, 1, runtime.KindSay)
	wantContains(t, tr.Out[0].Text, "open 9 to 17")
	noPersonalData(t, tr)
	if c.st.Status != runtime.StatusEnded || len(c.st.Values) != 0 {
		t.Errorf("status %d, values %v: want ended with nothing held", c.st.Status, c.st.Values)
	}

	// Typed: a number or the title, like any options.
	for _, answer := range []string{"2", "opening HOURS"} {
		c := menu(t)
		c.say("hi")
		tr := c.say(answer)
		wantReplies(t, tr, 1, runtime.KindSay)
		wantContains(t, tr.Out[0].Text, "open 9 to 17")
		noPersonalData(t, tr)
	}
}

func TestMenuUnclearAnswerAsksAgain(t *testing.T) {
	c := menu(t)
	c.say("hi")
	tr := c.say("pizza")
	wantReplies(t, tr, 1, runtime.KindRetry)
	wantContains(t, tr.Out[0].Text, "What can I do for you?")
	if len(tr.Out[0].Options) != 3 {
		t.Errorf("retry options %+v, want the menu again", tr.Out[0].Options)
	}
	noPersonalData(t, tr)
	tr = c.tap("book")
	// The booking purpose rests on consent: asked now, when the name is
	// about to be collected, not for the menu.
	wantReplies(t, tr, 1, runtime.KindConsent)
	wantContains(t, tr.Out[0].Text, "to book your visit")
}

// booked runs the menu up to the confirmation with name and email held.
func booked(t *testing.T) *convo {
	c := menu(t)
	c.say("hi")
	c.tap("book")
	c.tap("yes")
	c.say("Ada")
	tr := c.say("not-an-email")
	// A custom retry text precedes the question instead of replacing it.
	wantReplies(t, tr, 1, runtime.KindRetry)
	if got, want := tr.Out[0].Text, "That is not an email.\n\nYour email?"; got != want {
		t.Errorf("retry = %q, want %q", got, want)
	}
	tr = c.say("ada@example.com")
	wantReplies(t, tr, 1, runtime.KindAsk)
	wantContains(t, tr.Out[0].Text, "Shall we keep your details, Ada?")
	if len(c.st.Values) != 2 || c.st.Consent["booking"] != runtime.ConsentGranted {
		t.Fatalf("values %v, consent %v: want name and email on a granted consent", c.st.Values, c.st.Consent)
	}
	return c
}

func TestForgetDropsAnswersAndTheirConsent(t *testing.T) {
	c := booked(t)
	tr := c.tap("drop")
	wantReplies(t, tr, 1, runtime.KindSay)
	if got := tr.Out[0].Text; got != "Done." {
		t.Errorf("after forget the template still sees a name: %q", got)
	}
	var deleted []string
	for _, e := range effects(tr, runtime.EffectDelete) {
		deleted = append(deleted, e.Field)
	}
	if slices.Sort(deleted); !slices.Equal(deleted, []string{"email", "name"}) {
		t.Errorf("deleted %v, want email and name", deleted)
	}
	ce := effects(tr, runtime.EffectConsent)
	if len(ce) != 1 || ce[0].Purpose != "booking" || ce[0].Granted {
		t.Errorf("consent effects %+v, want booking withdrawn", ce)
	}
	if len(c.st.Values) != 0 || c.st.Consent["booking"] != runtime.ConsentWithdrawn {
		t.Errorf("values %v, consent %v", c.st.Values, c.st.Consent)
	}
	if len(effects(tr, runtime.EffectStore)) != 0 {
		t.Errorf("the menu answer was stored: %+v", tr.Effects)
	}
}

func TestForgetKeepsConsentWhileItsPurposeHoldsAnswers(t *testing.T) {
	c := booked(t)
	tr := c.tap("drop_email")
	wantReplies(t, tr, 1, runtime.KindSay)
	wantContains(t, tr.Out[0].Text, "DoneAda.")
	if d := effects(tr, runtime.EffectDelete); len(d) != 1 || d[0].Field != "email" {
		t.Errorf("delete effects %+v, want email only", d)
	}
	if ce := effects(tr, runtime.EffectConsent); len(ce) != 0 {
		t.Errorf("consent withdrawn although name is still held for it: %+v", ce)
	}
	if _, ok := c.st.Values["name"]; !ok || c.st.Consent["booking"] != runtime.ConsentGranted {
		t.Errorf("values %v, consent %v", c.st.Values, c.st.Consent)
	}
}

func TestWithdrawStep(t *testing.T) {
	c := menu(t)
	fc := c.caller.(*fakeCaller)
	c.say("hi")
	c.tap("news")
	c.tap("yes")
	tr := c.say("ada@example.com")
	if len(fc.calls) != 1 || fc.calls[0].integration != "mailer" {
		t.Fatalf("calls %+v, want the mailer", fc.calls)
	}
	wantReplies(t, tr, 1, runtime.KindAsk)
	tr = c.tap("leave")
	wantReplies(t, tr, 1, runtime.KindSay)
	wantContains(t, tr.Out[0].Text, "Bye.")
	ce := effects(tr, runtime.EffectConsent)
	if len(ce) != 1 || ce[0].Purpose != "news" || ce[0].Granted || ce[0].NoticeHash == "" {
		t.Errorf("consent effects %+v, want news withdrawn with the notice it was given on", ce)
	}
	if d := effects(tr, runtime.EffectDelete); len(d) != 1 || d[0].Field != "news_email" {
		t.Errorf("delete effects %+v, want news_email", d)
	}
	if c.st.Consent["news"] != runtime.ConsentWithdrawn || len(c.st.Values) != 0 {
		t.Errorf("values %v, consent %v", c.st.Values, c.st.Consent)
	}

	// Staying withdraws nothing.
	c = menu(t)
	c.say("hi")
	c.tap("news")
	c.tap("yes")
	c.say("ada@example.com")
	tr = c.tap("stay")
	if ce := effects(tr, runtime.EffectConsent); len(ce) != 0 {
		t.Errorf("staying withdrew %+v", ce)
	}
}

func optionIDs(m runtime.Message) []string {
	ids := make([]string, len(m.Options))
	for i, o := range m.Options {
		ids[i] = o.ID
	}
	return ids
}
