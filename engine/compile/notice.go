package compile

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/flow"
)

// noticeWords are the pieces of the engine's own privacy texts. English is
// the fallback for languages without an entry.
type noticeWords struct {
	consent      string // controller, labels, description, retention, extra, url
	notice       string // controller, labels, description, basis, retention, url
	special      string // category
	and          string
	keptFor      string // retention
	keptEach     string // field-by-field retentions
	session      string
	transient    string
	units        [4][2]string // year, day, hour, minute: singular, plural
	bases        map[string]string
	noController string
	noURL        string
}

var noticeLang = map[string]*noticeWords{
	"en": {
		consent:   "Before we go on: %s would like to collect your %s %s. %s%s You can withdraw at any time by sending STOP, and see what we hold with MY DATA. Privacy notice: %s\nDo you agree?",
		notice:    "Good to know: %s collects your %s %s (legal basis: %s). %s Send PRIVACY for details, or see %s",
		special:   "This includes %s information, a special category of data, so we need your explicit consent. ",
		and:       "and",
		keptFor:   "We keep it %s.",
		keptEach:  "We keep your %s.",
		session:   "until this conversation ends",
		transient: "only while we talk and never store it",
		units:     [4][2]string{{"year", "years"}, {"day", "days"}, {"hour", "hours"}, {"minute", "minutes"}},
		bases: map[string]string{
			flow.BasisConsent: "your consent", flow.BasisContract: "it is needed for our agreement with you",
			flow.BasisLegalObligation: "a legal obligation", flow.BasisVitalInterests: "to protect someone's vital interests",
			flow.BasisPublicTask: "a task in the public interest", flow.BasisLegitimateInterests: "our legitimate interests",
		},
		noController: "we",
		noURL:        "(ask us for it)",
	},
	"it": {
		consent:   "Prima di continuare: %s vorrebbe raccogliere %s %s. %s%s Puoi revocare il consenso in qualsiasi momento scrivendo STOP, e vedere cosa conserviamo con I MIEI DATI. Informativa privacy: %s\nSei d'accordo?",
		notice:    "Da sapere: %s raccoglie %s %s (base giuridica: %s). %s Scrivi PRIVACY per i dettagli, oppure vedi %s",
		special:   "Si tratta di dati relativi a %s, una categoria particolare di dati, quindi ci serve il tuo consenso esplicito. ",
		and:       "e",
		keptFor:   "Li conserviamo %s.",
		keptEach:  "Conserviamo: %s.",
		session:   "fino alla fine di questa conversazione",
		transient: "solo durante la conversazione, senza salvarli",
		units:     [4][2]string{{"anno", "anni"}, {"giorno", "giorni"}, {"ora", "ore"}, {"minuto", "minuti"}},
		bases: map[string]string{
			flow.BasisConsent: "il tuo consenso", flow.BasisContract: "necessari per il nostro contratto con te",
			flow.BasisLegalObligation: "un obbligo di legge", flow.BasisVitalInterests: "la tutela di interessi vitali",
			flow.BasisPublicTask: "un compito di interesse pubblico", flow.BasisLegitimateInterests: "il nostro legittimo interesse",
		},
		noController: "noi",
		noURL:        "(chiedicela)",
	},
}

func wordsFor(lang string) *noticeWords {
	if w, ok := noticeLang[lang]; ok {
		return w
	}
	return noticeLang["en"]
}

// HumanRetention says how long a value is kept, in language lang: "for 30
// days", "until this conversation ends".
func HumanRetention(r flow.Retention, lang string) string {
	w := wordsFor(lang)
	switch r.Kind {
	case flow.RetainSession:
		return w.session
	case flow.RetainTransient:
		return w.transient
	}
	day := 24 * time.Hour
	units := []time.Duration{365 * day, day, time.Hour, time.Minute}
	for i, u := range units {
		if r.For%u == 0 {
			n := int(r.For / u)
			name := w.units[i][1]
			if n == 1 {
				name = w.units[i][0]
			}
			pre := "for "
			if lang == "it" {
				pre = "per "
			}
			return pre + strconv.Itoa(n) + " " + name
		}
	}
	return r.String()
}

// BuildNotice composes the consent question (for a purpose that needs
// consent) or the notice at collection of purpose pi in language index li,
// with description as the purpose's rendered description, and hashes it.
func (p *Program) BuildNotice(pi, li int, description string) Notice {
	pu := &p.purposes[pi]
	lang := p.langs[li]
	w := wordsFor(lang)
	ctrl := p.controller.Name
	if ctrl == "" {
		ctrl = w.noController
	}
	url := p.controller.PrivacyURL
	if url == "" {
		url = w.noURL
	}
	var labels []string
	var specials []string
	same, first := true, flow.Retention{}
	for i, fi := range pu.Fields {
		fd := &p.fields[fi]
		labels = append(labels, ownLabel(fd.Label(li), lang))
		if fd.Special != "" {
			specials = append(specials, specialName(fd.Special, lang))
		}
		if i == 0 {
			first = fd.Retention
		} else if fd.Retention != first {
			same = false
		}
	}
	var keep string
	if same {
		keep = strings.Replace(w.keptFor, "%s", HumanRetention(first, lang), 1)
	} else {
		parts := make([]string, 0, len(pu.Fields))
		for _, fi := range pu.Fields {
			fd := &p.fields[fi]
			parts = append(parts, fd.Label(li)+" "+HumanRetention(fd.Retention, lang))
		}
		keep = strings.Replace(w.keptEach, "%s", joinList(parts, w.and), 1)
	}
	if shared := p.SharedWith(pi, lang); shared != "" {
		keep += " " + shared
	}
	var text string
	if pu.NeedsConsent {
		extra := ""
		if len(specials) > 0 {
			extra = strings.Replace(w.special, "%s", joinList(specials, w.and), 1)
		}
		text = format(w.consent, ctrl, joinList(labels, w.and), description, keep+" ", extra, url)
		text = strings.ReplaceAll(text, "  ", " ")
	} else {
		text = format(w.notice, ctrl, joinList(labels, w.and), description, HumanBasis(pu.Basis, lang), keep, url)
	}
	sum := sha256.Sum256([]byte(text))
	return Notice{Text: text, Hash: hex.EncodeToString(sum[:])}
}

// format replaces each %s in f with the next argument. Unlike fmt it never
// interprets other verbs that may appear in flow text.
func format(f string, args ...string) string {
	var b strings.Builder
	for _, a := range args {
		i := strings.Index(f, "%s")
		if i < 0 {
			break
		}
		b.WriteString(f[:i])
		b.WriteString(a)
		f = f[i+2:]
	}
	b.WriteString(f)
	return b.String()
}

func joinList(xs []string, and string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " " + and + " " + xs[len(xs)-1]
}
