package runtime

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/compile"
)

// Locale-correct answers (issue 11, item 4): numbers are read with the
// grouping and decimal marks of the conversation's language, and dates in
// its formats. docs/language.md ("Numbers and dates by language") lists the
// rules below; keep the two in step.

// numberMarks are a language's thousands separator and decimal mark.
type numberMarks struct{ group, decimal byte }

// markTable lists the languages whose marks are known. Any other language
// reads numbers as English does.
var markTable = map[string]numberMarks{
	"en": {',', '.'},
	"it": {'.', ','},
	"de": {'.', ','},
	"es": {'.', ','},
	"pt": {'.', ','},
	"nl": {'.', ','},
	"fr": {' ', ','},
}

// maxExact is the largest integer a float64 holds exactly (2^53); a larger
// one would be stored as a different number.
const maxExact = 1 << 53

// baseLang is "en" for "en", "en-GB" and "en_GB".
func baseLang(lang string) string {
	if i := strings.IndexAny(lang, "-_"); i > 0 {
		lang = lang[:i]
	}
	return strings.ToLower(lang)
}

// langCode is the code of the conversation's language.
func langCode(p *compile.Program, li int) string {
	if langs := p.Languages(); li < len(langs) {
		return baseLang(langs[li])
	}
	return ""
}

// parseNumberIn reads a number written with lang's marks: "1,000.5" in
// English, "1.000,5" in Italian. Groups must have three digits ("1,00" is
// refused rather than guessed), spaces may group digits in any language,
// and a number that a float64 cannot hold exactly (an integer beyond 2^53
// or more than 15 significant digits) is refused, so what is stored is
// what was typed.
func parseNumberIn(lang, s string) (float64, bool) {
	marks, ok := markTable[baseLang(lang)]
	if !ok {
		marks = markTable["en"]
	}
	s = strings.TrimSpace(s)
	sign := ""
	switch {
	case strings.HasPrefix(s, "-"), strings.HasPrefix(s, "−"):
		sign, s = "-", strings.TrimPrefix(strings.TrimPrefix(s, "-"), "−")
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, string(marks.decimal))
	if hasFrac && (frac == "" || !allDigits(frac)) {
		return 0, false
	}
	digits, ok := ungroup(intPart, marks.group)
	if !ok {
		return 0, false
	}
	if !hasFrac {
		n, err := strconv.ParseUint(digits, 10, 64)
		if err != nil || n > maxExact {
			return 0, false
		}
		v := float64(n)
		if sign == "-" {
			v = -v
		}
		return v, true
	}
	sig := strings.TrimRight(strings.TrimLeft(digits, "0")+frac, "0")
	if strings.TrimLeft(digits, "0") == "" {
		sig = strings.Trim(frac, "0")
	}
	if len(sig) > 15 {
		return 0, false
	}
	v, err := strconv.ParseFloat(sign+digits+"."+frac, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// ungroup returns the digits of an integer part written with group as its
// thousands separator (or spaces): the first group has one to three
// digits, every other group three.
func ungroup(s string, group byte) (string, bool) {
	parts := strings.FieldsFunc(s, func(r rune) bool {
		return r == rune(group) || r == ' ' || r == '\u00a0' || r == '\u202f'
	})
	seps := strings.Count(s, string(group))
	if group != ' ' {
		seps += strings.Count(s, " ")
	}
	seps += strings.Count(s, "\u00a0") + strings.Count(s, "\u202f")
	if len(parts) == 0 || seps != len(parts)-1 {
		return "", false // a separator at either end, or two in a row
	}
	for i, g := range parts {
		if !allDigits(g) || len(parts) > 1 && (i == 0 && len(g) > 3 || i > 0 && len(g) != 3) {
			return "", false
		}
	}
	return strings.Join(parts, ""), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Date orders a field may declare with date_order.
const (
	DayFirst   = "dmy"
	MonthFirst = "mdy"
)

// dateOrders is the order of numeric dates in languages where it is not in
// doubt. English is missing on purpose: 06/05/2000 is 6 May in London and
// June 5 in New York, so an English flow says which with date_order, and
// without it only dates that read the same both ways are accepted.
var dateOrders = map[string]string{
	"it": DayFirst, "de": DayFirst, "es": DayFirst, "pt": DayFirst,
	"nl": DayFirst, "fr": DayFirst,
}

// monthNames are the month names (and their usual short forms) a date may
// be written with, normalized.
var monthNames = map[string][12]string{
	"en": {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"},
	"it": {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
}

// parseDateIn reads a date in the formats of lang and returns it as
// YYYY-MM-DD. order is the field's date_order ("" for the language's own).
// Accepted in every language: 2000-05-06 and 2000/05/06. Numeric dates
// with / . or - and a four-digit year are read in the field's or the
// language's order; when neither says (English), only a date that reads
// the same day-first and month-first is accepted. Dates written with a
// month name ("6 May 2000", "May 6, 2000", "6 maggio 2000", and the first
// three letters of a name) are accepted in English and Italian.
func parseDateIn(lang, order, s string) (string, bool) {
	lang = baseLang(lang)
	s = strings.TrimSpace(s)
	if order == "" {
		order = dateOrders[lang]
	}
	if y, m, d, ok := numericDate(s); ok {
		if y < 0 { // day and month in the order of the language
			a, b := m, d
			switch {
			case order == DayFirst:
				d, m = a, b
			case order == MonthFirst:
				m, d = a, b
			case a == b || a > 12 || b > 12: // reads one way only
				d, m = max(a, b), min(a, b)
			default:
				return "", false
			}
			y = -y
		}
		return validDate(y, m, d)
	}
	return namedDate(lang, s)
}

// numericDate splits "2000-05-06", "2000/5/6" (y, m, d) or "06/05/2000"
// (-y, first, second: the order is for the caller to decide).
func numericDate(s string) (y, m, d int, ok bool) {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '.' || r == '-' })
	if len(parts) != 3 || strings.Count(s, "/")+strings.Count(s, ".")+strings.Count(s, "-") != 2 {
		return 0, 0, 0, false
	}
	n := [3]int{}
	for i, p := range parts {
		if !allDigits(p) || len(p) > 4 {
			return 0, 0, 0, false
		}
		n[i], _ = strconv.Atoi(p)
	}
	switch {
	case len(parts[0]) == 4 && len(parts[1]) <= 2 && len(parts[2]) <= 2:
		return n[0], n[1], n[2], true
	case len(parts[2]) == 4 && len(parts[0]) <= 2 && len(parts[1]) <= 2:
		return -n[2], n[0], n[1], true
	}
	return 0, 0, 0, false // a two-digit year is refused: which century?
}

// namedDate reads "6 May 2000", "May 6, 2000" or "6 maggio 2000".
func namedDate(lang, s string) (string, bool) {
	names, ok := monthNames[lang]
	if !ok {
		return "", false
	}
	words := strings.Fields(strings.NewReplacer(",", " ", ".", " ").Replace(compile.Normalize(s)))
	if len(words) != 3 {
		return "", false
	}
	month := func(w string) int {
		for i, n := range names {
			if w == n || len(w) == 3 && strings.HasPrefix(n, w) {
				return i + 1
			}
		}
		return 0
	}
	num := func(w string, maxLen int) int {
		w = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(w, "st"), "nd"), "rd"), "th")
		if !allDigits(w) || len(w) > maxLen {
			return -1
		}
		n, _ := strconv.Atoi(w)
		return n
	}
	if len(words[2]) != 4 {
		return "", false
	}
	y := num(words[2], 4)
	if m := month(words[1]); m > 0 { // 6 May 2000
		return validDate(y, m, num(words[0], 2))
	}
	if m := month(words[0]); m > 0 { // May 6 2000
		return validDate(y, m, num(words[1], 2))
	}
	return "", false
}

// validDate refuses 31/02 and the like instead of rolling them over.
func validDate(y, m, d int) (string, bool) {
	if y < 1 || m < 1 || m > 12 || d < 1 {
		return "", false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

// fitsRules checks a text or digits answer against the field's min_length
// and pattern (max_length is checked by the caller for text).
func fitsRules(fd *compile.Field, v string) bool {
	if fd.MinLength > 0 && utf8.RuneCountInString(v) < fd.MinLength {
		return false
	}
	return fd.Pattern == nil || fd.Pattern.MatchString(v)
}

// parseDigits keeps a digits answer as typed, leading zeros included
// ("0042" stays "0042", never 42). Spaces between digits are dropped.
func parseDigits(fd *compile.Field, s string) (string, bool) {
	v := strings.Join(strings.Fields(s), "")
	n := len(v)
	if !allDigits(v) || fd.Length > 0 && n != fd.Length || fd.MaxLength > 0 && n > fd.MaxLength {
		return "", false
	}
	return v, fitsRules(fd, v)
}

// digitCounts says how many digits a digits field takes, per language:
// exactly n; n to m.
var digitCounts = map[string][2]string{
	"en": {" It must have %s digits.", " It must have %s to %s digits."},
	"it": {" Devono essere %s cifre.", " Devono essere da %s a %s cifre."},
}

// digitCount is the sentence a digits retry adds about the length ("" when
// the field bounds it on one side only).
func digitCount(p *compile.Program, li int, fd *compile.Field) string {
	w, ok := digitCounts[langCode(p, li)]
	if !ok {
		w = digitCounts["en"]
	}
	switch {
	case fd.Length > 0:
		return sprintf(w[0], strconv.Itoa(fd.Length))
	case fd.MinLength > 0 && fd.MaxLength > 0:
		return sprintf(w[1], strconv.Itoa(fd.MinLength), strconv.Itoa(fd.MaxLength))
	}
	return ""
}

// parseURL accepts a web address with or without https:// ("example.com/x")
// and returns it with its scheme and a lower-case host. It refuses other
// schemes, addresses without a dotted host, and user names or passwords in
// the address, which are never stored.
func parseURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 2048 || strings.ContainsFunc(s, unicode.IsSpace) {
		return "", false
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	if !hostName(strings.ToLower(u.Hostname())) || u.Port() != "" && !allDigits(u.Port()) {
		return "", false
	}
	u.Host = strings.ToLower(u.Host)
	return u.String(), true
}
