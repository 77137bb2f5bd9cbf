package runtime_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
)

// answerSrc is a flow that asks one field; checkAnswers fills in its type,
// extra keys and options.
const answerSrc = `parley: 1
id: v
version: 1
languages: [en, it, de]
purposes: { p: { basis: contract, description: x } }
fields:
  f: { type: %s, purpose: p, retention: 1d%s }
steps:
  a:
    ask: Q
    save: f
%s  b:
    say: done
    end: true
`

// answerCase is one answer typed in a conversation in lang, and the value
// it must be stored as (nil: refused with a retry).
type answerCase struct {
	typ, extra, options string
	lang, in            string
	want                any
}

// checkAnswers types each answer in a new conversation of answerSrc and
// checks what is held afterwards.
func checkAnswers(t *testing.T, tests []answerCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.typ+" "+tc.extra+" "+tc.lang+" "+tc.in, func(t *testing.T) {
			p := compileSrc(t, "v.yaml", sprintf(answerSrc, tc.typ, tc.extra, tc.options))
			c := newConvo(t, p)
			c.lang = tc.lang
			c.say("hi")
			tr := c.say(tc.in)
			got, held := c.st.Values["f"]
			if tc.want == nil {
				if held || tr.Out[0].Kind != runtime.KindRetry {
					t.Errorf("%q accepted as %v, want a retry", tc.in, got.V)
				}
				return
			}
			if !held || got.V != tc.want {
				t.Errorf("%q stored as %#v (held %v), want %#v; replies %q", tc.in, got.V, held, tc.want, texts(tr))
			}
		})
	}
}

// TestNumbersByLanguage: each language's grouping and decimal marks, and
// numbers a float64 cannot hold exactly refused rather than rounded.
func TestNumbersByLanguage(t *testing.T) {
	checkAnswers(t, []answerCase{
		{"number", "", "", "en", "1,000", 1000.0},
		{"number", "", "", "en", "1,000.25", 1000.25},
		{"number", "", "", "en", "1 000", 1000.0},
		{"number", "", "", "en", "-2.5", -2.5},
		{"number", "", "", "en", "1.000,5", nil},
		{"number", "", "", "en", "1,00", nil},
		{"number", "", "", "en", "1,,000", nil},
		{"number", "", "", "en", ",100", nil},
		{"number", "", "", "en", "12.", nil},
		{"number", "", "", "en", "1e3", nil},
		{"number", "", "", "it", "1.000", 1000.0},
		{"number", "", "", "it", "1.000,5", 1000.5},
		{"number", "", "", "it", "12,5", 12.5},
		{"number", "", "", "it", "12.5", nil},
		{"number", "", "", "de", "1.234.567,89", 1234567.89},
		{"number", "", "", "en", "9007199254740992", 9007199254740992.0},
		{"number", "", "", "en", "9999999999999999", nil},
		{"number", "", "", "it", "9.999.999.999.999.999", nil},
		{"number", "", "", "en", "0.1234567890123456", nil},
		{"number", "", "", "en", "0.123456789012345", 0.123456789012345},
		{"number", ", min: 1, max: 1000", "", "en", "1,000", 1000.0},
		{"number", ", min: 1, max: 1000", "", "en", "1,001", nil},
		{"number", ", min: 1, max: 1000", "", "it", "1.001", nil},
	})
}

// TestDatesByLanguage: numeric dates in the language's order, month names,
// and English refusing a date that reads two ways.
func TestDatesByLanguage(t *testing.T) {
	checkAnswers(t, []answerCase{
		{"date", "", "", "en", "2000-05-06", "2000-05-06"},
		{"date", "", "", "en", "2000/5/6", "2000-05-06"},
		{"date", "", "", "en", "06/05/2000", nil},
		{"date", "", "", "en", "13/05/2000", "2000-05-13"},
		{"date", "", "", "en", "05/13/2000", "2000-05-13"},
		{"date", "", "", "en", "06/06/2000", "2000-06-06"},
		{"date", "", "", "en", "6 May 2000", "2000-05-06"},
		{"date", "", "", "en", "May 6th, 2000", "2000-05-06"},
		{"date", "", "", "en", "6 Sep 2000", "2000-09-06"},
		{"date", "", "", "en", "06/05/00", nil},
		{"date", "", "", "en", "31 February 2000", nil},
		{"date", "", "", "it", "06/05/2000", "2000-05-06"},
		{"date", "", "", "it", "6.5.2000", "2000-05-06"},
		{"date", "", "", "it", "05/13/2000", nil},
		{"date", "", "", "it", "6 maggio 2000", "2000-05-06"},
		{"date", "", "", "it", "6 Mag 2000", "2000-05-06"},
		{"date", "", "", "it", "6 May 2000", nil},
		{"date", "", "", "de", "06.05.2000", "2000-05-06"},
	})
}

// TestDateOrder: a field's date_order settles what English leaves open, and
// overrides the language's own order.
func TestDateOrder(t *testing.T) {
	checkAnswers(t, []answerCase{
		{"date", ", date_order: dmy", "", "en", "06/05/2000", "2000-05-06"},
		{"date", ", date_order: mdy", "", "en", "06/05/2000", "2000-06-05"},
		{"date", ", date_order: mdy", "", "en", "13/05/2000", nil},
		{"date", ", date_order: mdy", "", "it", "06/05/2000", "2000-06-05"},
		{"date", ", date_order: mdy", "", "en", "6 May 2000", "2000-05-06"},
	})
}

// TestDigitsURLAndPattern: digits keep leading zeros and their count, URLs
// are normalised, and a pattern refuses what does not match it.
func TestDigitsURLAndPattern(t *testing.T) {
	checkAnswers(t, []answerCase{
		{"digits", "", "", "en", "0042", "0042"},
		{"digits", "", "", "it", " 00 42 ", "0042"},
		{"digits", "", "", "en", "42a", nil},
		{"digits", "", "", "en", "-42", nil},
		{"digits", ", length: 4", "", "en", "0042", "0042"},
		{"digits", ", length: 4", "", "en", "042", nil},
		{"digits", ", length: 4", "", "en", "00042", nil},
		{"digits", ", min_length: 2, max_length: 3", "", "en", "007", "007"},
		{"digits", ", min_length: 2, max_length: 3", "", "en", "7", nil},
		{"digits", ", min_length: 2, max_length: 3", "", "en", "0007", nil},
		{"url", "", "", "en", "https://Example.COM/a?b=1", "https://example.com/a?b=1"},
		{"url", "", "", "it", "www.esempio.it", "https://www.esempio.it"},
		{"url", "", "", "en", "ftp://example.com", nil},
		{"url", "", "", "en", "https://ada:secret@example.com", nil},
		{"url", "", "", "en", "localhost", nil},
		{"url", "", "", "en", "not a url", nil},
		{"text", `, pattern: "[A-Z]{2}[0-9]{4}", pattern_message: "Send two capitals and four digits"`, "", "en", "AB1234", "AB1234"},
		{"text", `, pattern: "[A-Z]{2}[0-9]{4}", pattern_message: "Send two capitals and four digits"`, "", "en", "AB12345", nil},
		{"text", `, pattern: "[A-Z]{2}[0-9]{4}", pattern_message: "Send two capitals and four digits"`, "", "en", "xAB1234", nil},
		{"text", ", min_length: 3", "", "en", "Al", nil},
		{"digits", `, pattern: "4[0-9]*", pattern_message: "Starts with 4"`, "", "en", "4000", "4000"},
		{"digits", `, pattern: "4[0-9]*", pattern_message: "Starts with 4"`, "", "en", "5000", nil},
	})
}

// TestAnswerRetryTexts: a digits retry says how many digits, in the
// conversation's language, and a pattern_message replaces the engine's
// words.
func TestAnswerRetryTexts(t *testing.T) {
	for _, tc := range []struct{ extra, lang, want string }{
		{", length: 4", "en", "Please send only digits, like 0042. It must have 4 digits.\n\nQ"},
		{", min_length: 2, max_length: 3", "it", "Mandami solo cifre, come 0042. Devono essere da 2 a 3 cifre.\n\nQ"},
		{`, pattern: "4[0-9]*", pattern_message: { en: "Starts with 4", it: "Inizia con 4" }`, "it", "Inizia con 4\n\nQ"},
	} {
		c := newConvo(t, compileSrc(t, "v.yaml", sprintf(answerSrc, "digits", tc.extra, "")))
		c.lang = tc.lang
		c.say("hi")
		tr := c.say("1x")
		if len(tr.Out) != 1 || tr.Out[0].Kind != runtime.KindRetry || tr.Out[0].Text != tc.want {
			t.Errorf("%s in %s: replies %q, want a retry %q", tc.extra, tc.lang, texts(tr), tc.want)
		}
	}
}

// TestParseValueDigitsAndURL: rectification keeps leading zeros and says
// what a digits or url field takes, as chat does.
func TestParseValueDigitsAndURL(t *testing.T) {
	p := compileSrc(t, "v.yaml", sprintf(answerSrc, "digits", ", length: 4", ""))
	if v, err := runtime.ParseValue(p, "f", "0042", ""); err != nil || v != "0042" {
		t.Errorf("ParseValue(0042) = %#v, %v", v, err)
	}
	if _, err := runtime.ParseValue(p, "f", "042", ""); err == nil || !strings.Contains(err.Error(), "exactly 4 digits") || strings.Contains(err.Error(), "042") {
		t.Errorf("ParseValue(042) error %v, want one saying exactly 4 digits without the value", err)
	}
	p = compileSrc(t, "v.yaml", sprintf(answerSrc, "url", "", ""))
	if _, err := runtime.ParseValue(p, "f", "not a url", ""); err == nil || !strings.Contains(err.Error(), "a web address") {
		t.Errorf("ParseValue(not a url) error %v, want one saying a web address", err)
	}
}

// docsFlow compiles the first complete example flow after the heading in
// docs/language.md, so the docs show flows that work as told.
func docsFlow(t testing.TB, heading string) *compile.Program {
	t.Helper()
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## " + regexp.QuoteMeta(heading) + ".*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatalf("docs/language.md has no example under %q", heading)
	}
	return compileSrc(t, "docs/language.md", string(m[1]))
}

// TestAnswersExample runs the example of "Numbers, dates and other answers
// by language" in English and Italian, moving the fake clock for the age
// check and today()-relative dates.
func TestAnswersExample(t *testing.T) {
	p := docsFlow(t, "Numbers, dates and other answers by language")
	day := func(s string) time.Time {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(10 * time.Hour)
	}

	// 17 the day before the 18th birthday, in English.
	c := newConvo(t, p)
	c.lang, c.now = "en", day("2018-05-05")
	c.say("hi")
	tr := c.say("06/05/2000") // date_order: dmy, so 6 May
	if e := effects(tr, runtime.EffectStore); len(e) != 1 || e[0].Value.V != "2000-05-06" {
		t.Fatalf("stored %+v, want born = 2000-05-06", e)
	}
	wantContains(t, texts(tr)[len(tr.Out)-1], "only adults")

	// 18 on the birthday.
	c = newConvo(t, p)
	c.lang, c.now = "en", day("2018-05-06")
	c.say("hi")
	wantContains(t, texts(c.say("6 May 2000"))[0], "last four digits")
	tr = c.say("42")
	wantContains(t, tr.Out[0].Text, "Please send the 4 digits at the end of your card")
	c.say("0042")
	tr = c.say("1,500.5")
	if got := c.st.Values["limit"].V; got != 1500.5 {
		t.Fatalf("limit = %#v (replies %q), want 1500.5", got, texts(tr))
	}
	tr = c.say("2018-07-01") // 56 days ahead
	wantContains(t, tr.Out[0].Text, "next 30 days")
	tr = c.say("2018-06-05") // 30 days ahead
	wantContains(t, tr.Out[0].Text, "Done: card 0042, limit 1500.5 from 2018-06-05")

	// Italian: month names, the Italian decimal comma, and a day-first date.
	c = newConvo(t, p)
	c.lang, c.now = "it", day("2025-03-01")
	c.say("ciao")
	c.say("6 maggio 2000")
	c.say("0042")
	tr = c.say("1.500,5")
	if got := c.st.Values["limit"].V; got != 1500.5 {
		t.Fatalf("limite = %#v (replies %q), want 1500.5", got, texts(tr))
	}
	tr = c.say("28/02/2025") // yesterday
	wantContains(t, tr.Out[0].Text, "entro 30 giorni")
	tr = c.say("02/03/2025")
	wantContains(t, tr.Out[0].Text, "Fatto: carta 0042", "dal 2025-03-02")
}

// TestDateHelpers: each date helper in a condition, on a fake clock; a
// helper given a date that is not held makes the condition false.
func TestDateHelpers(t *testing.T) {
	const src = `parley: 1
id: d
version: 1
languages: [en]
purposes: { p: { basis: contract, description: x } }
fields:
  d: { type: date, purpose: p, retention: 1d, date_order: dmy }
  other: { type: date, purpose: p, retention: 1d }
steps:
  a:
    ask: Date?
    save: d
  b:
    if: %s
    then: yes
  no:
    say: "false"
    end: true
  yes:
    say: "true"
    end: true
`
	now := time.Date(2024, 2, 29, 23, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		in, cond string
		want     bool
	}{
		{"29/02/2024", "d == today()", true},
		{"28/02/2024", "d < today()", true},
		{"29/02/2000", "age(d) == 24", true},
		{"01/03/2000", "age(d) == 23", true},
		{"31/01/2024", `add_months(d, 1) == "2024-02-29"`, true},
		{"29/02/2024", `add_years(d, 1) == "2025-02-28"`, true},
		{"29/02/2024", `add_days(d, -29) == "2024-01-31"`, true},
		{"01/01/2024", "days_between(d, today()) == 59", true},
		{"01/03/2024", "days_between(d, today()) == -1", true},
		{"29/02/2024", "age(other) >= 0", false},
		{"29/02/2024", "add_days(other, 1) != today()", false},
	} {
		c := newConvo(t, compileSrc(t, "d.yaml", sprintf(src, tc.cond)))
		c.now = now
		c.say("hi")
		tr := c.say(tc.in)
		if got := texts(tr); len(got) == 0 || got[len(got)-1] != map[bool]string{true: "true", false: "false"}[tc.want] {
			t.Errorf("%s with d=%s: replies %q, want %v", tc.cond, tc.in, got, tc.want)
		}
	}
}

// TestTemplateDefault: a template shows its fallback for a field that was
// never collected (consent declined) and the value once it is held.
func TestTemplateDefault(t *testing.T) {
	const src = `parley: 1
id: g
version: 1
languages: [en]
controller: { name: Acme, contact: dpo@acme.example, privacy_url: https://acme.example/privacy }
purposes: { greeting: { basis: consent, description: to greet you by name } }
fields:
  name: { type: text, purpose: greeting, retention: session }
steps:
  ask_name:
    ask: Your name?
    save: name
  greet:
    say: 'Nice to meet you, {{ name | default("there") }}! {{ default(name, "-") }}'
    end: true
`
	for _, tc := range []struct{ consent, name, want string }{
		{"no", "", "Nice to meet you, there! -"},
		{"yes", "Ada", "Nice to meet you, Ada! Ada"},
	} {
		c := newConvo(t, compileSrc(t, "g.yaml", src))
		c.say("hi")
		tr := c.say(tc.consent)
		if tc.name != "" {
			tr = c.say(tc.name)
		}
		if got := texts(tr); len(got) == 0 || got[len(got)-1] != tc.want {
			t.Errorf("consent %s: replies %q, want last %q", tc.consent, got, tc.want)
		}
	}
}
