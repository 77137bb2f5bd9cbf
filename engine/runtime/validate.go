package runtime

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/flow"
)

// parseAnswer checks an answer against the field it is saved to and returns
// the value to store: a string (text, email, phone, choice id, date as
// YYYY-MM-DD), a float64 (number) or a bool (boolean).
func parseAnswer(p *compile.Program, s *compile.Step, fd *compile.Field, in Inbound, norm string, w *words, li int) (any, bool) {
	raw := string(in.Text)
	if raw == "" {
		raw = in.Choice
	}
	switch fd.Type {
	case flow.TypeChoice:
		id, ok := matchOption(p, s, in, norm, li)
		if !ok {
			return nil, false
		}
		return id, true
	case flow.TypeBoolean:
		if s != nil && len(s.Options) > 0 {
			if id, ok := matchOption(p, s, in, norm, li); ok {
				norm = compile.Normalize(id)
			}
		}
		if norm == "1" || norm == "0" {
			return norm == "1", true
		}
		if norm == "2" && s != nil && s.Kind == compile.StepAsk && len(s.Options) == 0 {
			// The question shows the engine's own "[1] Yes" "[2] No":
			// typing an option's number picks it, as on any question.
			return false, true
		}
		b, ok := yesNo(w, in.Choice, norm)
		return b, ok
	case flow.TypeEmail:
		v, ok := parseEmail(raw)
		return v, ok
	case flow.TypePhone:
		v, ok := parsePhone(raw)
		return v, ok
	case flow.TypeNumber:
		v, ok := parseNumberIn(langCode(p, li), raw)
		if !ok || fd.HasMin && v < fd.Min || fd.HasMax && v > fd.Max {
			return nil, false
		}
		return v, true
	case flow.TypeDate:
		v, ok := parseDateIn(langCode(p, li), fd.DateOrder, raw)
		return v, ok
	case flow.TypeDigits:
		v, ok := parseDigits(fd, raw)
		return v, ok
	case flow.TypeURL:
		v, ok := parseURL(raw)
		return v, ok
	default:
		v := strings.TrimSpace(raw)
		if v == "" || fd.MaxLength > 0 && utf8.RuneCountInString(v) > fd.MaxLength || !fitsRules(fd, v) {
			return nil, false
		}
		return v, true
	}
}

// matchOption finds the option an answer picks: a tapped button id, a typed
// number ("2"), or a typed title or id, ignoring case and accents.
func matchOption(p *compile.Program, s *compile.Step, in Inbound, norm string, li int) (string, bool) {
	if s == nil {
		return "", false
	}
	if in.Choice != "" {
		for i := range s.Options {
			if s.Options[i].ID == in.Choice {
				return in.Choice, true
			}
		}
	}
	if n, err := strconv.Atoi(norm); err == nil {
		if n >= 1 && n <= len(s.Options) {
			return s.Options[n-1].ID, true
		}
		return "", false
	}
	if norm == "" {
		return "", false
	}
	for i := range s.Options {
		o := &s.Options[i]
		title := ""
		if li < len(o.Norm) {
			title = o.Norm[li]
		}
		if title == "" { // a template title: render it to compare
			title = compile.Normalize(o.Title.For(li).Src)
		}
		if norm == title || norm == compile.Normalize(o.ID) {
			return o.ID, true
		}
	}
	return "", false
}

// parseEmail accepts local@domain.tld with no spaces and lower-cases the
// domain (the local part is case-sensitive in theory, so it is kept).
func parseEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 254 || strings.ContainsFunc(s, unicode.IsSpace) {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at > 64 || strings.IndexByte(s[:at], '@') >= 0 {
		return "", false
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", false
	}
	if !hostName(domain) {
		return "", false
	}
	return local + "@" + domain, true
}

// hostName reports whether domain (lower case) is a dotted host name whose
// last label is at least two letters: example.com, not localhost or an IP.
func hostName(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return utf8.RuneCountInString(tld) >= 2 && strings.IndexFunc(tld, unicode.IsDigit) < 0
}

// parsePhone normalizes a number to E.164: "+<country><number>" with 8 to 15
// digits. Spaces, dashes, dots and brackets are dropped and a leading 00
// becomes +; a number without its country code is refused rather than
// guessed.
func parsePhone(s string) (string, bool) {
	b := make([]byte, 0, 16)
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b = append(b, '+')
		case r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		default:
			return "", false
		}
	}
	if len(b) > 2 && b[0] == '0' && b[1] == '0' {
		b = append([]byte{'+'}, b[2:]...)
	}
	if len(b) < 2 || b[0] != '+' || b[1] == '0' {
		return "", false
	}
	if n := len(b) - 1; n < 8 || n > 15 {
		return "", false
	}
	return string(b), true
}
