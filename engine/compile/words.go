package compile

import "strings"

// HumanBasis names a legal basis to the customer in language lang ("your
// consent", "un obbligo di legge"), never by its id.
func HumanBasis(basis, lang string) string {
	if b := wordsFor(lang).bases[basis]; b != "" {
		return b
	}
	if b := wordsFor("en").bases[basis]; b != "" {
		return b
	}
	return basis
}

// specialNames are the special categories of data (GDPR art. 9) in the
// customer's words, by language; English is the fallback.
var specialNames = map[string]map[string]string{
	"en": {
		"health": "health", "religion": "religious", "ethnicity": "ethnic origin", "politics": "political opinion",
		"sexual_orientation": "sexual orientation", "biometric": "biometric", "genetic": "genetic",
		"trade_union": "trade union membership", "criminal": "criminal record",
	},
	"it": {
		"health": "salute", "religion": "religione", "ethnicity": "origine etnica", "politics": "opinioni politiche",
		"sexual_orientation": "orientamento sessuale", "biometric": "dati biometrici", "genetic": "dati genetici",
		"trade_union": "appartenenza sindacale", "criminal": "condanne penali",
	},
}

func specialName(id, lang string) string {
	if n := specialNames[lang][id]; n != "" {
		return n
	}
	if n := specialNames["en"][id]; n != "" {
		return n
	}
	return strings.ReplaceAll(id, "_", " ")
}

// ownLabel drops a leading "your" from a field label where the notice
// already says it ("collect your %s"), so a label "your choice" does not
// read "collect your your choice".
func ownLabel(label, lang string) string {
	if lang != "en" && wordsFor(lang) != wordsFor("en") {
		return label
	}
	if len(label) > 5 && strings.EqualFold(label[:5], "your ") {
		return label[5:]
	}
	return label
}
