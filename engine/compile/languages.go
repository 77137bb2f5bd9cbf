package compile

import "strings"

// greetings are the words that, opening a customer's first message, show
// which language they write in. A word shared by two declared languages
// decides nothing.
var greetings = map[string][]string{
	"en": {"hi", "hello", "hey", "good morning", "good afternoon", "good evening", "english"},
	"it": {"ciao", "buongiorno", "buonasera", "salve", "italiano"},
	"de": {"hallo", "guten tag", "guten morgen", "guten abend", "moin", "deutsch"},
	"fr": {"bonjour", "bonsoir", "salut", "francais"},
	"es": {"hola", "buenos dias", "buenas tardes", "buenas noches", "espanol"},
}

// languageNames are the names of languages in themselves, for the buttons
// that let a customer pick one.
var languageNames = map[string]string{
	"en": "English", "it": "Italiano", "de": "Deutsch", "fr": "Français", "es": "Español",
}

// LanguageName returns lang's name in lang itself ("Italiano"), or the code
// when Parley does not know it.
func LanguageName(lang string) string {
	if n, ok := languageNames[lang]; ok {
		return n
	}
	return lang
}

// DetectLang returns the declared language whose greeting opens the
// normalized message norm, or "" when none or more than one does.
func (p *Program) DetectLang(norm string) string {
	found := ""
	for _, l := range p.langs {
		for _, g := range greetings[l] {
			if norm == g || strings.HasPrefix(norm, g+" ") || strings.HasPrefix(norm, g+",") {
				if found != "" && found != l {
					return ""
				}
				found = l
				break
			}
		}
	}
	return found
}

// PickLang returns the declared language that the normalized answer norm
// names: a language code, its own name, or its English name; "" if none.
func (p *Program) PickLang(norm string) string {
	for _, l := range p.langs {
		if norm == l || norm == Normalize(LanguageName(l)) || norm == Normalize(englishNames[l]) {
			return l
		}
	}
	return ""
}

var englishNames = map[string]string{
	"en": "English", "it": "Italian", "de": "German", "fr": "French", "es": "Spanish",
}
