package compile

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Normalize folds s for matching what a customer typed against option titles,
// yes/no words and rights keywords: trimmed, lower case, accents removed,
// inner spaces collapsed, trailing punctuation dropped. "  Sì! " and "si"
// normalize alike. An already normal ASCII string is returned as is, without
// allocating.
func Normalize(s string) string {
	if isNormalASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		r = unicode.ToLower(r)
		if r >= utf8.RuneSelf {
			if f, ok := fold[r]; ok {
				b.WriteString(f)
				continue
			}
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), ".!?;,: ")
}

func isNormalASCII(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	switch s[len(s)-1] {
	case '.', '!', '?', ';', ',', ':':
		return false
	}
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') || c == '\t' || c == '\n' || c == '\r' {
			return false
		}
		if c == ' ' {
			if prevSpace {
				return false
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
	}
	return true
}

// fold removes the accents of the Latin letters used by the languages flows
// are written in.
var fold = map[rune]string{}

func init() {
	groups := map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ďđ", "e": "èéêëēĕėęě", "g": "ĝğġģ",
		"h": "ĥħ", "i": "ìíîïĩīĭįı", "j": "ĵ", "k": "ķ", "l": "ĺļľŀł", "n": "ñńņňŉ",
		"o": "òóôõöøōŏő", "r": "ŕŗř", "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûüũūŭůűų",
		"w": "ŵ", "y": "ýÿŷ", "z": "źżž", "ss": "ß", "ae": "æ", "oe": "œ",
	}
	for to, from := range groups {
		for _, r := range from {
			fold[r] = to
		}
	}
}
