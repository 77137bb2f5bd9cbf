package runtime_test

import (
	"testing"

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
