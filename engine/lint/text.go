package lint

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/parleyhq/parley/engine/flow"
)

// phrase matches any of words as whole words in normalized text (lower
// case, with _ and - read as spaces). Letters of every script count as word
// characters, so accented Italian words match whole.
type phrase struct{ re *regexp.Regexp }

func newPhrase(words ...string) phrase {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = regexp.QuoteMeta(normalize(w))
	}
	return phrase{regexp.MustCompile(`(?:^|[^\pL\pN])(?:` + strings.Join(q, "|") + `)(?:$|[^\pL\pN])`)}
}

func (p phrase) match(s string) bool { return p.re.MatchString(normalize(s)) }

var normalizer = strings.NewReplacer("_", " ", "-", " ", "’", "'")

func normalize(s string) string { return normalizer.Replace(strings.ToLower(s)) }

// texts calls fn for every translation of t, with its language ("" for a
// text written once for every language).
func texts(t *flow.Text, fn func(s flow.Scalar, lang string)) {
	if t == nil {
		return
	}
	if t.Plain.IsSet() {
		fn(t.Plain, "")
	}
	for _, lt := range t.ByLang {
		fn(lt.Value, lt.Lang.Value)
	}
}

// message is one text the customer is shown, with where it is.
type message struct {
	text *flow.Text
	step *flow.Step
	what string // "say", "ask", "option", …
}

// messages returns every text of the flow's steps the customer is shown.
func (l *linter) messages() []message {
	var out []message
	for _, s := range l.f.Steps {
		for _, m := range []message{{s.Say, s, "say"}, {s.Ask, s, "ask"}, {s.Retry, s, "retry"}, {s.Handoff, s, "handoff"}} {
			if m.text != nil {
				out = append(out, m)
			}
		}
		for _, o := range s.Options {
			if o.Title != nil {
				out = append(out, message{o.Title, s, "option"})
			}
		}
	}
	return out
}

var (
	templateRe = regexp.MustCompile(`\{\{(.*?)\}\}`)
	identRe    = regexp.MustCompile(`[\pL_][\pL\pN_]*`)
	quotedRe   = regexp.MustCompile(`"[^"]*"|'[^']*'`)
)

// names returns the identifiers an expression uses, leaving out quoted text.
func names(expr string) []string {
	return identRe.FindAllString(quotedRe.ReplaceAllString(expr, ""), -1)
}

// templateFields returns the declared fields the {{ }} templates of s use.
func (l *linter) templateFields(s string) []*flow.Field {
	var out []*flow.Field
	for _, m := range templateRe.FindAllStringSubmatch(s, -1) {
		for _, n := range names(m[1]) {
			if fd := l.f.FieldByName(n); fd != nil {
				out = append(out, fd)
			}
		}
	}
	return out
}

func langNote(lang string) string {
	if lang == "" {
		return ""
	}
	return fmt.Sprintf(" (%s)", lang)
}
