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

// recipientWords are the sentences naming who receives the data, by
// language; English is the fallback.
var recipientWords = map[string][3]string{
	// shared with, WhatsApp's processor, transfers outside the EU
	"en": {"We share it with %s.",
		"Meta Platforms Ireland, which runs WhatsApp, carries these messages as our processor.",
		"Transfers outside the EU: %s."},
	"it": {"Li condividiamo con %s.",
		"Meta Platforms Ireland, che gestisce WhatsApp, trasmette questi messaggi come nostro responsabile del trattamento.",
		"Trasferimenti fuori dall'UE: %s."},
}

func recipientWordsFor(lang string) [3]string {
	if w, ok := recipientWords[lang]; ok {
		return w
	}
	return recipientWords["en"]
}

// SharedWith says, in language lang, which declared recipients receive
// data of purpose pi (pi < 0: of any purpose), or "" when none is declared.
func (p *Program) SharedWith(pi int, lang string) string {
	var names []string
	for i := range p.integrations {
		in := &p.integrations[i]
		if in.Recipient == "" || (pi >= 0 && in.PurposeIndex != pi) {
			continue
		}
		dup := false
		for _, n := range names {
			dup = dup || n == in.Recipient
		}
		if !dup {
			names = append(names, in.Recipient)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return strings.Replace(recipientWordsFor(lang)[0], "%s", joinList(names, wordsFor(lang).and), 1)
}

// Recipients is the part of the full privacy notice (PRIVACY) on who
// receives the data in language lang: the integrations' declared
// recipients, Meta as WhatsApp's processor, and the transfers outside the
// EU the flow declares.
func (p *Program) Recipients(lang string) string {
	w := recipientWordsFor(lang)
	out := []string{}
	if s := p.SharedWith(-1, lang); s != "" {
		out = append(out, s)
	}
	out = append(out, w[1])
	if t := p.controller.TransfersOutsideEU; t != "" {
		out = append(out, strings.Replace(w[2], "%s", t, 1))
	}
	return strings.Join(out, " ")
}
