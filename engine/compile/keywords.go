package compile

import (
	"strings"

	"github.com/parleyhq/parley/engine/flow"
)

// defaultKeywords are the words that trigger data-subject rights in chat,
// per language, before Normalize.
var defaultKeywords = map[string]map[Right][]string{
	"en": {
		RightMyData: {"MY DATA"}, RightDelete: {"DELETE MY DATA"}, RightStop: {"STOP", "UNSUBSCRIBE"},
		RightPrivacy: {"PRIVACY"}, RightHuman: {"HUMAN", "AGENT"}, RightLanguage: {"LANGUAGE"},
	},
	"it": {
		RightMyData: {"I MIEI DATI"}, RightDelete: {"CANCELLA I MIEI DATI"}, RightStop: {"STOP"},
		RightPrivacy: {"PRIVACY"}, RightHuman: {"OPERATORE"}, RightLanguage: {"LINGUA"},
	},
	"de": {
		RightMyData: {"MEINE DATEN"}, RightDelete: {"MEINE DATEN LÖSCHEN"}, RightStop: {"STOP"},
		RightPrivacy: {"DATENSCHUTZ", "PRIVACY"}, RightHuman: {"MENSCH", "MITARBEITER"}, RightLanguage: {"SPRACHE"},
	},
	"fr": {
		RightMyData: {"MES DONNÉES"}, RightDelete: {"SUPPRIMER MES DONNÉES"}, RightStop: {"STOP"},
		RightPrivacy: {"CONFIDENTIALITÉ", "PRIVACY"}, RightHuman: {"CONSEILLER", "HUMAIN"}, RightLanguage: {"LANGUE"},
	},
	"es": {
		RightMyData: {"MIS DATOS"}, RightDelete: {"BORRAR MIS DATOS"}, RightStop: {"STOP", "BAJA"},
		RightPrivacy: {"PRIVACIDAD", "PRIVACY"}, RightHuman: {"AGENTE", "HUMANO"}, RightLanguage: {"IDIOMA"},
	},
}

var rightNames = map[string]Right{
	"my_data": RightMyData, "delete": RightDelete, "stop": RightStop,
	"privacy": RightPrivacy, "human": RightHuman, "language": RightLanguage,
}

// buildKeywords returns one table per language plus a last table of the
// English defaults and every override, which apply in any language.
func buildKeywords(langs []string, overrides []*flow.Keyword) []map[string]Right {
	out := make([]map[string]Right, len(langs)+1)
	for i, l := range langs {
		out[i] = map[string]Right{}
		for r, ws := range defaultKeywords[l] {
			for _, w := range ws {
				out[i][Normalize(w)] = r
			}
		}
	}
	any := map[string]Right{}
	// The language keyword of every declared language works in any of them:
	// a customer stuck in a language they do not read types their own word.
	for _, l := range langs {
		for _, w := range defaultKeywords[l][RightLanguage] {
			any[Normalize(w)] = RightLanguage
		}
	}
	for r, ws := range defaultKeywords["en"] {
		for _, w := range ws {
			any[Normalize(w)] = r
		}
	}
	for _, k := range overrides {
		r, ok := rightNames[k.Right.Value]
		if !ok || k.Words == nil {
			continue
		}
		for i, l := range langs {
			s := k.Words.For(l, langs[0])
			for _, w := range strings.Split(s.Value, ",") {
				if w = Normalize(w); w != "" {
					out[i][w] = r
					any[w] = r
				}
			}
		}
	}
	out[len(langs)] = any
	return out
}
