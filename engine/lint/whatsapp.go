package lint

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// WhatsApp Cloud API limits as adapters/whatsapp/render.go applies them
// (the engine may not import the adapter; a test keeps the two equal).
const (
	maxTextRunes        = 4096
	maxInteractiveBody  = 1024
	maxButtons          = 3
	maxButtonTitleRunes = 20
	maxListRows         = 10
	maxRowTitleRunes    = 24
	maxRowDescRunes     = 72
)

func checkOptionCount(l *linter) {
	for _, s := range l.f.Steps {
		if n := len(s.Options); n > maxListRows {
			l.add(diag.OptionsAsText, s.ID.Range, "step %q offers %d options: WhatsApp shows at most %d as a list, so they arrive as a numbered text the customer must answer by typing a number; offer at most %d, or split the question in two", s.ID.Value, n, maxListRows, maxListRows)
		}
	}
}

// checkOptionTitles reports titles WhatsApp would cut, for the form
// render.go picks: buttons for up to 3 options, a list for up to 10.
func checkOptionTitles(l *linter) {
	for _, s := range l.f.Steps {
		n := len(s.Options)
		if n == 0 || n > maxListRows {
			continue
		}
		for _, o := range s.Options {
			texts(o.Title, func(t flow.Scalar, lang string) {
				w := utf8.RuneCountInString(t.Value)
				switch {
				case n <= maxButtons && w > maxButtonTitleRunes:
					l.add(diag.ButtonTitleCut, t.Range, "option %q of step %q is a button titled with %d characters%s: WhatsApp holds %d, so it is cut; shorten it", o.ID.Value, s.ID.Value, w, langNote(lang), maxButtonTitleRunes)
				case n > maxButtons && w > maxRowDescRunes:
					l.add(diag.ListRowCut, t.Range, "option %q of step %q is a list row titled with %d characters%s: even the row description holds only %d, so the customer never sees it whole; shorten it", o.ID.Value, s.ID.Value, w, langNote(lang), maxRowDescRunes)
				case n > maxButtons && w > maxRowTitleRunes:
					l.add(diag.ListRowCut, t.Range, "option %q of step %q is a list row titled with %d characters%s: WhatsApp holds %d, so it is cut and repeated in the row description; shorten it", o.ID.Value, s.ID.Value, w, langNote(lang), maxRowTitleRunes)
				}
			})
		}
	}
}

// expandedLength is the length of s in code points with each {{ }} counted
// at the longest value it can have, when that can be bounded (otherwise as
// nothing).
func (l *linter) expandedLength(s, lang string) int {
	n := utf8.RuneCountInString(templateRe.ReplaceAllString(s, ""))
	for _, m := range templateRe.FindAllStringSubmatch(s, -1) {
		n += l.bound(strings.TrimSpace(m[1]), lang)
	}
	return n
}

var titleCall = regexp.MustCompile(`^title\(\s*([\pL_][\pL\pN_]*)\s*\)$`)

func (l *linter) bound(expr, lang string) int {
	if m := titleCall.FindStringSubmatch(expr); m != nil {
		max := 0
		for _, st := range l.savers[m[1]] {
			for _, o := range st.Options {
				max = maxInt(max, utf8.RuneCountInString(o.Title.For(lang, l.f.DefaultLanguage()).Value))
			}
		}
		return max
	}
	fd := l.f.FieldByName(expr)
	if fd == nil {
		return 0
	}
	switch fd.Type.Value {
	case flow.TypeText:
		return fd.MaxLength.Value // 0 when unbounded
	case flow.TypeEmail:
		return 254
	case flow.TypePhone:
		return 16
	case flow.TypeNumber:
		return 24
	case flow.TypeDate:
		return 10
	case flow.TypeDigits:
		return max(fd.Length.Value, fd.MaxLength.Value) // 0 when unbounded
	case flow.TypeURL:
		return 2048 // the longest address an answer may be
	case flow.TypeBoolean:
		return 5
	case flow.TypeChoice:
		max := 0
		for _, st := range l.savers[fd.Name.Value] {
			for _, o := range st.Options {
				max = maxInt(max, utf8.RuneCountInString(o.ID.Value))
			}
		}
		return max
	}
	return 0
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func checkMessageLength(l *linter) {
	for _, m := range l.messages() {
		if m.what == "option" {
			continue
		}
		interactive := m.what == "ask" && len(m.step.Options) > 0 && len(m.step.Options) <= maxListRows
		texts(m.text, func(s flow.Scalar, lang string) {
			n := l.expandedLength(s.Value, lang)
			switch {
			case n > maxTextRunes:
				l.add(diag.MessageTooLong, s.Range, "the %s text of step %q can be %d characters long%s: WhatsApp holds %d in a message, so it is split into several; shorten it", m.what, m.step.ID.Value, n, langNote(lang), maxTextRunes)
			case interactive && n > maxInteractiveBody:
				l.add(diag.MessageTooLong, s.Range, "the question of step %q can be %d characters long%s: a question with options holds %d, so the text is sent first and the options follow with a short prompt; shorten it", m.step.ID.Value, n, langNote(lang), maxInteractiveBody)
			}
		})
	}
}

// humanWords are the words the engine always understands as "let me talk to
// a person" (engine/compile's defaults; a test keeps them equal).
var humanWords = []string{"HUMAN", "AGENT", "OPERATORE", "MENSCH", "MITARBEITER", "CONSEILLER", "HUMAIN", "AGENTE", "HUMANO"}

func checkHumanRoute(l *linter) {
	for _, s := range l.f.Steps {
		if s.Handoff != nil {
			return
		}
	}
	words := append([]string(nil), humanWords...)
	for _, k := range l.f.Keywords {
		if k.Right.Value == "human" {
			texts(k.Words, func(s flow.Scalar, _ string) {
				for _, w := range strings.Split(s.Value, ",") {
					if w = strings.TrimSpace(w); w != "" {
						words = append(words, w)
					}
				}
			})
		}
	}
	p := newPhrase(words...)
	for _, m := range l.messages() {
		told := false
		texts(m.text, func(s flow.Scalar, _ string) { told = told || p.match(s.Value) })
		if told {
			return
		}
	}
	at := l.f.ID.Range
	if !l.f.ID.IsSet() {
		at = l.f.Range
	}
	l.add(diag.NoHumanRoute, at, "flow %q never tells the customer how to reach a person and has no handoff step: say that they can write %s at any time, or add a handoff step", l.f.ID.Value, humanWords[0])
}

var linkRe = regexp.MustCompile(`https?://[^\s"'<>)\]]+`)

func checkLinks(l *linter) {
	if l.pol.LinkDomains == nil {
		return
	}
	check := func(s flow.Scalar, what string) {
		for _, raw := range linkRe.FindAllString(s.Value, -1) {
			u, err := url.Parse(strings.TrimRight(raw, ".,;:!?"))
			if err != nil || u.Host == "" || allowedHost(u.Hostname(), l.pol.LinkDomains) {
				continue
			}
			l.add(diag.LinkNotAllowed, s.Range, "%s links to %s, which is not in links.allow of %s: link to an allowed domain, or add it to the policy after review", what, u.Hostname(), l.pol.Path)
		}
	}
	if l.f.Controller != nil && l.f.Controller.PrivacyURL.IsSet() {
		check(l.f.Controller.PrivacyURL, "privacy_url")
	}
	for _, m := range l.messages() {
		texts(m.text, func(s flow.Scalar, lang string) {
			check(s, fmt.Sprintf("the %s text of step %q%s", m.what, m.step.ID.Value, langNote(lang)))
		})
	}
}
