package runtime

import (
	"strings"

	"github.com/parleyhq/parley/engine/compile"
)

// pendingLanguage marks the language question; what the conversation was
// waiting for before it follows, so it can be asked again afterwards.
const pendingLanguage = "language:"

// languageAsk is the language question, in each language Parley knows. A
// new conversation asks it in every language of the flow at once.
var languageAsk = map[string]string{
	"en": "Which language do you prefer?",
	"it": "In che lingua preferisci?",
	"de": "Welche Sprache möchten Sie?",
	"fr": "Quelle langue préférez-vous ?",
	"es": "¿Qué idioma prefieres?",
}

// pickLang chooses the language of a new conversation: the one the caller
// or the channel names, the one the first message is written in (a
// greeting), the one of the customer's earlier conversation, else the
// flow's first. ask reports that the customer should be asked, because the
// flow has several languages and nothing above decided.
func (t *turn) pickLang() (lang string, ask bool) {
	p := t.p
	switch {
	case t.env.Lang != "" && p.HasLang(t.env.Lang):
		return t.env.Lang, false
	case t.in.Lang != "" && p.HasLang(t.in.Lang):
		return t.in.Lang, false
	}
	if l := p.DetectLang(t.norm); l != "" {
		return l, false
	}
	if t.st.Lang != "" && p.HasLang(t.st.Lang) {
		return t.st.Lang, false
	}
	return p.Languages()[0], len(p.Languages()) > 1
}

// askLanguage sends the language question with a button per language of
// the flow, remembering what the conversation was waiting for.
func (t *turn) askLanguage(everyLang bool) {
	langs := t.p.Languages()
	opts := make([]Option, len(langs))
	var texts []string
	for i, l := range langs {
		opts[i] = Option{ID: "lang_" + l, Title: compile.LanguageName(l)}
		if q, ok := languageAsk[l]; ok && everyLang {
			texts = append(texts, q)
		}
	}
	text := strings.Join(texts, " / ")
	if !everyLang || text == "" {
		text = languageAskFor(t.st.Lang)
	}
	if !strings.HasPrefix(t.st.Pending, pendingLanguage) {
		t.st.Pending = pendingLanguage + t.st.Pending
	}
	t.send(KindRights, text, opts)
}

func languageAskFor(lang string) string {
	if q, ok := languageAsk[lang]; ok {
		return q
	}
	return languageAsk["en"]
}

// languageAnswer reads the answer to the language question. An answer that
// names no language keeps the current one: the question is asked once.
func (t *turn) languageAnswer() {
	st, p := t.st, t.p
	l := strings.TrimPrefix(t.in.Choice, "lang_")
	if !p.HasLang(l) {
		if l = p.PickLang(t.norm); l == "" {
			l = p.DetectLang(t.norm)
		}
	}
	if l != "" && l != st.Lang {
		t.switchLang(l)
	}
	st.Pending = st.Pending[len(pendingLanguage):]
	switch st.Status {
	case StatusWaiting:
		t.resume(false)
	case StatusHandedOff:
	default:
		t.restart()
	}
}

// switchLang changes the conversation's language. A notice the customer
// already saw stays seen in its translation: the same notice in another
// language is not a changed notice, so consent is not asked again.
func (t *turn) switchLang(l string) {
	st, p := t.st, t.p
	var seen []int
	for i := range p.Purposes() {
		pu := p.PurposeAt(i)
		if h, ok := st.Noticed[pu.Name]; ok && h == t.notice(pu).Hash {
			seen = append(seen, i)
		}
	}
	st.Lang = l
	t.li, t.w = p.LangIndex(l), wordsFor(l)
	t.envDirty = true
	for _, i := range seen {
		pu := p.PurposeAt(i)
		st.Noticed[pu.Name] = t.notice(pu).Hash
	}
}
