package runtime_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
)

func kinds(t testing.TB) *convo {
	c := newConvo(t, loadFile(t, "testdata/kinds.yaml"))
	c.caller = &fakeCaller{}
	return c
}

func TestStepKindsHappyPath(t *testing.T) {
	c := kinds(t)
	fc := c.caller.(*fakeCaller)

	tr := c.say("hi")
	// say, then the notice at collection (contract basis: no question), then the ask.
	wantReplies(t, tr, 3, runtime.KindSay, runtime.KindNotice, runtime.KindAsk)
	wantContains(t, tr.Out[1].Text, "Acme", "to serve you", "it is needed for our agreement with you", "https://acme.example/privacy")
	if n := effects(tr, runtime.EffectNotice); len(n) != 1 || n[0].Purpose != "service" || n[0].NoticeHash == "" {
		t.Errorf("notice effects = %+v", n)
	}

	tr = c.say("Bob")
	wantReplies(t, tr, 1, runtime.KindAsk) // no second notice for the same purpose
	wantContains(t, tr.Out[0].Text, "Age, Bob?")

	tr = c.say("42.5")
	wantReplies(t, tr, 1, runtime.KindAsk)
	if e := effects(tr, runtime.EffectStore); len(e) != 1 || e[0].Value.V != 42.5 || !e[0].Session || !e[0].Value.ExpiresAt.IsZero() {
		t.Errorf("session store = %+v", e)
	}
	if o := tr.Out[0].Options; len(o) != 2 || o[0].ID != "yes" {
		t.Errorf("boolean ask options = %+v, want yes/no", o)
	}

	tr = c.say("y")
	if len(effects(tr, runtime.EffectStore)) != 0 {
		t.Errorf("transient field stored: %+v", tr.Effects)
	}
	if _, held := c.st.Values["adult"]; held {
		t.Error("transient value kept after the turn")
	}
	wantReplies(t, tr, 1, runtime.KindAsk) // branch took then: ask_size
	wantContains(t, tr.Out[0].Text, "Size?")

	tr = c.say("  LARGE ")
	if len(fc.calls) != 1 {
		t.Fatalf("calls = %+v, want 1", fc.calls)
	}
	got := fc.calls[0]
	if got.integration != "crm" || !maps.Equal(got.fields, map[string]string{"name": "Bob", "size": "l"}) {
		t.Errorf("caller got %q %v, want crm with name and size only", got.integration, got.fields)
	}
	ce := effects(tr, runtime.EffectCall)
	if len(ce) != 1 || !slices.Equal(ce[0].Fields, []string{"name", "size"}) || ce[0].Value.V != nil {
		t.Errorf("call effect = %+v", ce)
	}
	// ok (say) then next: ask_promo, whose purpose needs consent.
	wantReplies(t, tr, 2, runtime.KindSay, runtime.KindConsent)
	wantContains(t, tr.Out[0].Text, "Sent Large for BOB (43.5 next year)")

	tr = c.say("maybe")
	wantReplies(t, tr, 1, runtime.KindConsent)
	wantContains(t, tr.Out[0].Text, "Please answer Yes or No")
	if len(tr.Effects) != 0 {
		t.Errorf("unclear answer recorded %+v", tr.Effects)
	}

	tr = c.tap("yes")
	wantReplies(t, tr, 1, runtime.KindAsk)
	tr = c.say("bob@acme.example")
	wantReplies(t, tr, 1, runtime.KindSay)
	wantContains(t, tr.Out[0].Text, "Bye Bob")
	if _, held := c.st.Values["age"]; held {
		t.Error("session value kept after the end")
	}
	if _, held := c.st.Values["name"]; !held {
		t.Error("7d value dropped at the end")
	}
}

func TestBranchElseAndHandoff(t *testing.T) {
	c := kinds(t)
	c.say("hi")
	c.say("Bob")
	c.say("30")
	tr := c.say("no")
	wantReplies(t, tr, 1, runtime.KindHandoff)
	if len(effects(tr, runtime.EffectHandoff)) != 1 || c.st.Status != runtime.StatusHandedOff {
		t.Errorf("handoff: status %d effects %+v", c.st.Status, tr.Effects)
	}
	if h := c.st.Handoff; h == nil || h.Reason != "step:"+c.st.Step {
		t.Errorf("hand-off reason: %+v, want step:%s", h, c.st.Step)
	}
	// The customer's messages are kept for the team and acknowledged
	// once, not answered by the bot.
	tr = c.say("hello?")
	wantReplies(t, tr, 1, runtime.KindHandoff)
	if got := effects(tr, runtime.EffectTranscript); len(got) != 1 || got[0].Value.V != "hello?" {
		t.Errorf("transcript effects %+v", got)
	}
	if tr := c.say("anyone?"); len(tr.Out) != 0 || len(effects(tr, runtime.EffectTranscript)) != 1 {
		t.Errorf("second message: replies %q, effects %+v", texts(tr), tr.Effects)
	}
}

func TestCallFailureFollowsOnFail(t *testing.T) {
	c := kinds(t)
	c.caller = &fakeCaller{fail: true}
	c.say("hi")
	c.say("Bob")
	c.say("30")
	c.say("yes")
	tr := c.say("1")
	if len(tr.Out) == 0 || tr.Out[0].Text != "CRM down" {
		t.Errorf("replies %q, want CRM down first", texts(tr))
	}
}

// TestCallCarriesItsOwnCompiledIntegration: the caller gets the compiled
// integration of the running program (nothing to look up by name) and the
// subject; the call effect names it as a recipient unless nothing was sent.
func TestCallCarriesItsOwnCompiledIntegration(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		recipient bool
	}{
		{"sent", nil, true},
		{"failed after sending may have arrived", errors.New("timeout"), true},
		{"nothing sent", fmt.Errorf("refused: %w", runtime.ErrNotSent), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kinds(t)
			fc := &fakeCaller{err: tc.err}
			c.caller, c.subject = fc, "subject-ref-1"
			c.say("hi")
			c.say("Bob")
			c.say("30")
			c.say("yes")
			tr := c.say("1")
			if len(fc.raw) != 1 {
				t.Fatalf("%d calls, want 1", len(fc.raw))
			}
			in := fc.raw[0].Integration
			if in.Flow != c.p.ID() || in.Name != "crm" || in.URL != "https://crm.acme.example" || in.Purpose != "service" ||
				in.Timeout != compile.DefaultCallTimeout || fc.raw[0].Subject != "subject-ref-1" {
				t.Errorf("call = %+v, want kinds' own crm for the subject", fc.raw[0])
			}
			ce := effects(tr, runtime.EffectCall)
			if len(ce) != 1 || (ce[0].Target != nil) != tc.recipient || tc.recipient && ce[0].Target.URL != in.URL {
				t.Errorf("call effects %+v, want recipient %t", ce, tc.recipient)
			}
		})
	}
}

func TestRetriesThenOnFail(t *testing.T) {
	c := kinds(t)
	c.say("hi")
	c.say("Bob")
	tr := c.say("12") // below min 18
	wantReplies(t, tr, 1, runtime.KindRetry)
	wantContains(t, tr.Out[0].Text, "Please send a number", "between 18 and 120", "Age, Bob?")
	tr = c.say("lots")
	wantReplies(t, tr, 1, runtime.KindSay)
	if tr.Out[0].Text != "Too bad" || c.st.Status != runtime.StatusEnded {
		t.Errorf("after attempts: %q status %d", texts(tr), c.st.Status)
	}
}

func TestTextTooLongIsRetried(t *testing.T) {
	c := kinds(t)
	c.say("hi")
	tr := c.say("Bartholomew the Third")
	wantReplies(t, tr, 1, runtime.KindRetry)
	wantContains(t, tr.Out[0].Text, "under 10 characters")
}

func TestItalianConversation(t *testing.T) {
	c := kinds(t)
	c.lang = "it"
	tr := c.say("ciao")
	wantContains(t, tr.Out[0].Text, "Ciao")
	wantContains(t, tr.Out[1].Text, "per servirti", "base giuridica")
	c.say("Bob")
	c.say("30")
	tr = c.say("sì")
	wantContains(t, tr.Out[0].Text, "Taglia?")
	if tr.Out[0].Options[0].Title != "Piccolà" {
		t.Errorf("option title = %q", tr.Out[0].Options[0].Title)
	}
	tr = c.say("PICCOLA") // accents ignored
	wantContains(t, tr.Out[0].Text, "Inviato Piccolà")
}

func TestConsentDeclineSkipsPurposeSteps(t *testing.T) {
	c := kinds(t)
	for _, s := range []string{"hi", "Bob", "30", "yes", "1"} {
		c.say(s)
	}
	tr := c.say("No")
	// extra has no on_decline: the promo ask is skipped.
	wantReplies(t, tr, 1, runtime.KindSay)
	wantContains(t, tr.Out[0].Text, "Bye Bob")
	if e := effects(tr, runtime.EffectConsent); len(e) != 1 || e[0].Granted || e[0].Purpose != "extra" {
		t.Errorf("consent effects %+v", e)
	}
}

func TestChangedNoticeAsksAgain(t *testing.T) {
	c := kinds(t)
	for _, s := range []string{"hi", "Bob", "30", "yes", "1", "yes"} {
		c.say(s)
	}
	if c.st.Pending != "" || c.st.Step != "ask_promo" {
		t.Fatalf("not at promo: %+v", c.st)
	}
	c.st.Noticed["extra"] = "an older notice"
	c.st.Status = runtime.StatusEnded
	for _, s := range []string{"hi", "Bob", "30", "yes"} {
		c.say(s)
	}
	tr := c.say("1")
	if tr.Out[len(tr.Out)-1].Kind != runtime.KindConsent {
		t.Errorf("changed notice not asked again: %q", texts(tr))
	}
}

func TestValidationByType(t *testing.T) {
	tests := []answerCase{
		{"text", "", "", "en", "  Ada  ", "Ada"},
		{"text", "", "", "en", "   ", nil},
		{"email", "", "", "en", "Ada@Example.COM", "Ada@example.com"},
		{"email", "", "", "en", "ada@example", nil},
		{"email", "", "", "en", "a b@example.com", nil},
		{"email", "", "", "en", "@example.com", nil},
		{"phone", "", "", "en", "+44 7700-900123", "+447700900123"},
		{"phone", "", "", "en", "0044 (7700) 900123", "+447700900123"},
		{"phone", "", "", "en", "07700 900123", nil},
		{"phone", "", "", "en", "+1234567", nil},
		{"phone", "", "", "en", "+1234567890123456", nil},
		{"number", "", "", "en", "12", 12.0},
		{"number", "", "", "en", "12.5", 12.5},
		{"number", "", "", "en", "12,5", nil}, // a comma groups thousands in English
		{"number", "", "", "en", "twelve", nil},
		{"number", "", "", "en", "NaN", nil},
		{"number", ", min: 1, max: 10", "", "en", "11", nil},
		{"date", "", "", "en", "2025-12-31", "2025-12-31"},
		{"date", "", "", "en", "31/12/2025", "2025-12-31"},
		{"date", "", "", "it", "1.2.2025", "2025-02-01"}, // English reads it two ways
		{"date", "", "", "en", "31/02/2025", nil},
		{"boolean", "", "", "en", "YES", true},
		{"boolean", "", "", "en", "n", false},
		{"boolean", "", "", "en", "true", true},
		{"boolean", "", "", "it", "Sì", true},
		{"boolean", "", "", "it", "no", false},
		{"boolean", "", "", "de", "Nein", false},
		{"boolean", "", "", "de", "ja", true},
		{"boolean", "", "", "en", "perhaps", nil},
		{"choice", "", choiceOpts, "en", "2", "b"},
		{"choice", "", choiceOpts, "en", "caffè latte", "a"},
		{"choice", "", choiceOpts, "en", "  CAFFE LATTE ", "a"},
		{"choice", "", choiceOpts, "en", "b", "b"},
		{"choice", "", choiceOpts, "en", "3", nil},
		{"choice", "", choiceOpts, "en", "tea", nil},
	}
	checkAnswers(t, tests)
}

const choiceOpts = `    options:
      - { id: a, title: "Caffè Latte" }
      - { id: b, title: Espresso }
`

func sprintf(f string, args ...string) string {
	for _, a := range args {
		f = strings.Replace(f, "%s", a, 1)
	}
	return f
}

func TestChoiceByButton(t *testing.T) {
	p := compileSrc(t, "v.yaml", sprintf(`parley: 1
id: v
version: 1
purposes: { p: { basis: contract, description: x } }
fields:
  f: { type: choice, purpose: p, retention: 1d }
steps:
  a:
    ask: Q
    save: f
%s  b:
    say: "{{ title(f) }}"
`, choiceOpts))
	c := newConvo(t, p)
	c.say("hi")
	tr := c.tap("b")
	if c.st.Values["f"].V != "b" || tr.Out[0].Text != "Espresso" {
		t.Errorf("tap b: stored %v, replies %q", c.st.Values["f"].V, texts(tr))
	}
}

func TestFallingOffTheEndEnds(t *testing.T) {
	p := compileSrc(t, "e.yaml", "parley: 1\nid: e\nversion: 1\nsteps:\n  a:\n    say: one\n  b:\n    say: two\n")
	c := newConvo(t, p)
	tr := c.say("hi")
	if got := texts(tr); !slices.Equal(got, []string{"one", "two"}) || c.st.Status != runtime.StatusEnded {
		t.Errorf("replies %q status %d", got, c.st.Status)
	}
	tr = c.say("again")
	if len(tr.Out) != 2 {
		t.Errorf("ended conversation did not restart: %q", texts(tr))
	}
}

func TestRunawayLoopIsCut(t *testing.T) {
	p := compileSrc(t, "l.yaml", "parley: 1\nid: l\nversion: 1\nsteps:\n  a:\n    next: b\n  b:\n    next: a\n")
	c := newConvo(t, p)
	done := make(chan runtime.Turn, 1)
	go func() { done <- c.say("hi") }()
	select {
	case tr := <-done:
		if c.st.Status != runtime.StatusEnded || len(tr.Out) != 1 {
			t.Errorf("loop: status %d replies %q", c.st.Status, texts(tr))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Step did not return")
	}
}
