package lint

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// prohibited is one kind of data a chat must never collect, the words that
// give it away (English and Italian, with the common German, French and
// Spanish ones) and what to ask instead.
type prohibited struct {
	what    string
	words   phrase
	unless  phrase // wording that asks for a safe part ("last four digits")
	instead string
}

var prohibitedKinds = []prohibited{
	{
		what: "a full payment card number",
		words: newPhrase("card number", "card no", "credit card", "debit card", "card_number", "cardnumber", "long number on your card",
			"numero della carta", "numero di carta", "numero carta", "carta di credito", "carta di debito", "kartennummer", "numéro de carte", "número de tarjeta"),
		unless:  newPhrase("last four", "last 4", "last4", "ultime quattro", "ultime 4", "ultimi quattro", "ultimi 4", "letzten vier", "quatre derniers", "últimos cuatro"),
		instead: "ask only for the last four digits, or hand off to a secure payment page",
	},
	{
		what:    "a card security code (CVV/CVC)",
		words:   newPhrase("cvv", "cvc", "cvv2", "cvc2", "security code", "card verification", "codice di sicurezza", "codice cvv", "prüfnummer", "cryptogramme"),
		instead: "never ask for it: the payment provider collects it on its own secure page",
	},
	{
		what:    "a PIN",
		words:   newPhrase("pin", "pin code", "pincode", "codice pin"),
		instead: "never ask for it: no one legitimate needs a customer's PIN; hand off to a secure channel",
	},
	{
		what:    "a password",
		words:   newPhrase("password", "passcode", "passphrase", "pwd", "parola d'ordine", "parola chiave", "passwort", "mot de passe", "contraseña"),
		instead: "never ask for it: send a link to reset it, or hand off to a person",
	},
	{
		what: "a one-time code",
		words: newPhrase("otp", "one time code", "one time password", "one time passcode", "verification code", "sms code", "2fa", "2fa code", "auth code",
			"codice otp", "codice di verifica", "codice monouso", "codice sms", "bestätigungscode", "code de vérification", "código de verificación"),
		instead: "never ask for a code sent to the customer (that is how accounts are taken over); use a reference number",
	},
	{
		what: "a national id, social security or tax number",
		words: newPhrase("national id", "national identity", "national insurance", "social security", "ssn", "tax number", "tax id", "tax code", "passport number", "id card number", "identity card number",
			"codice fiscale", "carta d'identità", "carta di identità", "numero di documento", "numero del documento", "tessera sanitaria", "partita iva", "steuernummer", "personalausweis", "numéro de sécurité sociale", "dni", "nif"),
		instead: "ask for a customer or case reference number, or hand off to a secure channel for identity checks",
	},
}

// specials are the words that give away each special category.
var specialWords = map[string]phrase{
	"health": newPhrase("health", "medical", "illness", "disease", "diagnosis", "medication", "medicine", "allergy", "allergies", "disability", "pregnant", "pregnancy", "symptoms", "blood type",
		"salute", "malattia", "diagnosi", "farmaci", "farmaco", "allergia", "allergie", "disabilità", "gravidanza", "sintomi", "gesundheit", "krankheit", "santé", "maladie", "salud", "enfermedad"),
	"religion":           newPhrase("religion", "religious", "faith", "church", "mosque", "synagogue", "religione", "religioso", "religiosa", "fede", "chiesa", "moschea", "religión", "glaube"),
	"ethnicity":          newPhrase("ethnicity", "ethnic", "racial", "race or ethnicity", "ethnic origin", "etnia", "etnico", "etnica", "origine razziale", "razza", "ethnie", "etnia"),
	"politics":           newPhrase("political", "politics", "political party", "voted for", "orientamento politico", "opinioni politiche", "partito politico", "politische", "opinion politique", "opinión política"),
	"sexual_orientation": newPhrase("sexual orientation", "sexuality", "gay", "lesbian", "bisexual", "orientamento sessuale", "sessualità", "orientation sexuelle", "orientación sexual"),
	"biometric":          newPhrase("fingerprint", "biometric", "face scan", "facial recognition", "voice print", "impronta digitale", "impronte digitali", "biometrico", "biometrici", "riconoscimento facciale"),
	"genetic":            newPhrase("genetic", "dna", "genome", "genetico", "genetica", "genetici"),
	"trade_union":        newPhrase("trade union", "union member", "labor union", "labour union", "sindacato", "sindacale", "iscritto al sindacato", "gewerkschaft", "syndicat"),
	"criminal":           newPhrase("criminal record", "criminal", "conviction", "convicted", "offence", "offense", "arrested", "precedenti penali", "condanna", "casellario giudiziale", "reato", "reati", "vorstrafe", "casier judiciaire"),
}

// evidence is where a field gives itself away.
type evidence struct {
	at    diag.Range
	where string
}

// fieldTexts calls fn with the name, label, question and retry texts of fd
// in every language, stopping when fn returns true.
func (l *linter) fieldTexts(fd *flow.Field, fn func(s string, e evidence) bool) {
	if fn(fd.Name.Value, evidence{fd.Name.Range, fmt.Sprintf("field %q", fd.Name.Value)}) {
		return
	}
	stop := false
	texts(fd.Label, func(s flow.Scalar, lang string) {
		if !stop {
			stop = fn(s.Value, evidence{fd.Name.Range, fmt.Sprintf("the label of field %q%s", fd.Name.Value, langNote(lang))})
		}
	})
	for _, st := range l.savers[fd.Name.Value] {
		for _, t := range []*flow.Text{st.Ask, st.Retry} {
			texts(t, func(s flow.Scalar, lang string) {
				if !stop {
					stop = fn(s.Value, evidence{s.Range, fmt.Sprintf("the question in step %q%s", st.ID.Value, langNote(lang))})
				}
			})
		}
	}
}

// fieldClass is what the wording of one field gives away, worked out once
// per field: matching every text against every word list is the costly
// part of linting.
type fieldClass struct {
	kind      *prohibited
	kindAt    evidence
	special   string
	specialAt evidence
}

func (l *linter) classify(fd *flow.Field) *fieldClass {
	if c, ok := l.classes[fd]; ok {
		return c
	}
	c := &fieldClass{}
	c.kind, c.kindAt = l.findProhibited(fd)
	c.special, c.specialAt = l.findSpecial(fd)
	l.classes[fd] = c
	return c
}

// prohibitedKind returns what prohibited data fd asks for, if any, and where
// that shows.
func (l *linter) prohibitedKind(fd *flow.Field) (*prohibited, evidence) {
	c := l.classify(fd)
	return c.kind, c.kindAt
}

// specialKind returns the special category fd declares, or the one its
// wording gives away.
func (l *linter) specialKind(fd *flow.Field) (string, evidence) {
	c := l.classify(fd)
	return c.special, c.specialAt
}

func (l *linter) findProhibited(fd *flow.Field) (*prohibited, evidence) {
	for i := range prohibitedKinds {
		k := &prohibitedKinds[i]
		var ev evidence
		found := false
		l.fieldTexts(fd, func(s string, e evidence) bool {
			if k.words.match(s) && (k.unless.re == nil || !k.unless.match(s)) {
				ev, found = e, true
			}
			return found
		})
		if found {
			return k, ev
		}
	}
	return nil, evidence{}
}

func (l *linter) findSpecial(fd *flow.Field) (string, evidence) {
	if fd.Special.IsSet() {
		return fd.Special.Value, evidence{fd.Special.Range, fmt.Sprintf("field %q", fd.Name.Value)}
	}
	for _, c := range specialCategories {
		var ev evidence
		found := false
		l.fieldTexts(fd, func(s string, e evidence) bool {
			if specialWords[c].match(s) {
				ev, found = e, true
			}
			return found
		})
		if found {
			return c, ev
		}
	}
	return "", evidence{}
}

func checkProhibited(l *linter) {
	kinds := map[string]*prohibited{}
	for _, fd := range l.f.Fields {
		if k, ev := l.prohibitedKind(fd); k != nil {
			kinds[fd.Name.Value] = k
			d := l.add(diag.ProhibitedData, ev.at, "%s asks for %s, which a chat must never collect: %s", ev.where, k.what, k.instead)
			d.Detail = "Chat messages stay on the customer's phone, with Meta and in backups."
		}
	}
	for _, in := range l.f.Integrations {
		for _, s := range in.Sends {
			if k := kinds[s.Value]; k != nil {
				l.add(diag.ProhibitedData, s.Range, "integration %q sends field %q, %s, to another system: remove it from sends and %s", in.Name.Value, s.Value, k.what, k.instead)
			}
		}
	}
}

func checkUndeclaredSpecial(l *linter) {
	for _, fd := range l.f.Fields {
		if fd.Special.IsSet() {
			continue
		}
		if c, ev := l.specialKind(fd); c != "" {
			words := strings.ReplaceAll(c, "_", " ")
			l.add(diag.UndeclaredSpecial, ev.at, "%s looks like %s data, a special category: add special: %s to field %q and give it a purpose with basis consent, or stop asking for it", ev.where, words, c, fd.Name.Value)
		}
	}
}

var marketingWords = newPhrase("marketing", "newsletter", "newsletters", "promotion", "promotions", "promotional", "advertising", "profiling",
	"pubblicità", "promozioni", "promozionale", "profilazione", "werbung", "publicité", "publicidad")

func checkMarketing(l *linter) {
	for _, p := range l.f.Purposes {
		if !p.Basis.IsSet() || p.Basis.Value == flow.BasisConsent {
			continue
		}
		hit := marketingWords.match(p.Name.Value)
		texts(p.Description, func(s flow.Scalar, _ string) { hit = hit || marketingWords.match(s.Value) })
		if hit {
			l.add(diag.MarketingNeedsConsent, p.Basis.Range, "purpose %q is marketing, a newsletter or profiling, which needs the customer's consent: set basis: consent instead of %s", p.Name.Value, p.Basis.Value)
		}
	}
}

func checkRetention(l *linter) {
	for _, fd := range l.f.Fields {
		r, err := flow.ParseRetention(fd.Retention.Value)
		if err != nil || r.Kind != flow.RetainFor {
			continue
		}
		where := "the default policy"
		if l.pol.Path != "" {
			where = l.pol.Path
		}
		if p := l.f.PurposeByName(fd.Purpose.Value); p != nil {
			if max, ok := l.pol.MaxRetention[p.Basis.Value]; ok && r.For > max {
				l.add(diag.RetentionOverPolicy, fd.Retention.Range, "field %q is kept for %s, but %s allows at most %s for data on basis %s: shorten the retention to %s or less",
					fd.Name.Value, fd.Retention.Value, where, retentionString(max), p.Basis.Value, retentionString(max))
			}
		}
		if fd.Special.IsSet() {
			if max, ok := l.pol.MaxSpecial[fd.Special.Value]; ok && r.For > max {
				l.add(diag.RetentionOverPolicy, fd.Retention.Range, "field %q holds %s data and is kept for %s, but %s allows at most %s for it: shorten the retention to %s or less",
					fd.Name.Value, strings.ReplaceAll(fd.Special.Value, "_", " "), fd.Retention.Value, where, retentionString(max), retentionString(max))
			}
		}
	}
}

// integrationURLs calls fn for each address of each integration.
func (l *linter) integrationURLs(fn func(in *flow.Integration, key string, s flow.Scalar)) {
	for _, in := range l.f.Integrations {
		for _, u := range []struct {
			key string
			s   flow.Scalar
		}{{"url", in.URL}, {"on_erase", in.OnErase}, {"on_stop", in.OnStop}} {
			if u.s.IsSet() {
				fn(in, u.key, u.s)
			}
		}
	}
}

func checkTemplateInURL(l *linter) {
	l.integrationURLs(func(in *flow.Integration, key string, s flow.Scalar) {
		if strings.Contains(s.Value, "{{") {
			l.add(diag.TemplateInURL, s.Range, "the %s of integration %q puts {{ }} values in the address, where logs and proxies see them: remove the template and list the fields under sends:, which go in the encrypted body", key, in.Name.Value)
		}
	})
}

func checkIntegrationDomains(l *linter) {
	l.integrationURLs(func(in *flow.Integration, key string, s flow.Scalar) {
		u, err := url.Parse(s.Value)
		if err != nil || u.Host == "" || allowedHost(u.Hostname(), l.pol.IntegrationDomains) {
			return
		}
		l.add(diag.IntegrationNotAllowed, s.Range, "integration %q sends data to %s, which is not in integrations.allow of %s: use an allowed host, or add the domain to the policy after review",
			in.Name.Value, u.Hostname(), l.pol.Path)
	})
}

func checkConsentDescription(l *linter) {
	for _, p := range l.f.Purposes {
		if p.Basis.Value != flow.BasisConsent {
			continue
		}
		switch {
		case p.Description == nil:
			l.add(diag.ConsentUndescribed, p.Name.Range, "purpose %q asks for consent without saying what for: add a description in %s", p.Name.Value, strings.Join(l.langs, " and "))
		case p.Description.Plain.IsSet() && len(l.langs) > 1:
			l.add(diag.ConsentUndescribed, p.Description.Range, "purpose %q has one description for %s: consent must be asked in the customer's language, so write one description per language", p.Name.Value, strings.Join(l.langs, " and "))
		}
	}
}

func checkUnusedFields(l *linter) {
	if !l.compiled {
		// A use may be hidden behind an error (a misspelt name in a
		// condition): report unused fields once the flow runs.
		return
	}
	used := map[string]bool{}
	for _, s := range l.f.Steps {
		for _, n := range names(s.If.Value) {
			used[n] = true
		}
	}
	for _, m := range l.messages() {
		texts(m.text, func(s flow.Scalar, _ string) {
			for _, fd := range l.templateFields(s.Value) {
				used[fd.Name.Value] = true
			}
		})
	}
	for _, in := range l.f.Integrations {
		for _, s := range in.Sends {
			used[s.Value] = true
		}
	}
	for _, t := range l.f.Templates {
		for _, s := range t.Params {
			used[s.Value] = true
		}
	}
	for _, fd := range l.f.Fields {
		if len(l.savers[fd.Name.Value]) > 0 && !used[fd.Name.Value] {
			st := l.savers[fd.Name.Value][0]
			l.add(diag.UnusedField, fd.Name.Range, "field %q is asked in step %q but never used in a message, a condition, an integration or a template: use it, or stop asking for it", fd.Name.Value, st.ID.Value)
		}
	}
}

// sensitiveKind names what a prohibited or special-category field holds,
// or "" for any other field.
func (l *linter) sensitiveKind(fd *flow.Field) string {
	if k, _ := l.prohibitedKind(fd); k != nil {
		return k.what
	}
	if c, _ := l.specialKind(fd); c != "" {
		return strings.ReplaceAll(c, "_", " ") + " data"
	}
	return ""
}

func checkSensitiveEcho(l *linter) {
	for _, m := range l.messages() {
		texts(m.text, func(s flow.Scalar, lang string) {
			for _, fd := range l.templateFields(s.Value) {
				if what := l.sensitiveKind(fd); what != "" {
					l.add(diag.SensitiveEcho, s.Range, "step %q shows field %q (%s) back to the customer%s: replies stay on phones and lock screens, so confirm without the value", m.step.ID.Value, fd.Name.Value, what, langNote(lang))
				}
			}
		})
	}
	for _, t := range l.f.Templates {
		for _, s := range t.Params {
			fd := l.f.FieldByName(s.Value)
			if fd == nil {
				continue
			}
			if what := l.sensitiveKind(fd); what != "" {
				l.add(diag.SensitiveEcho, s.Range, "template %q carries field %q (%s) to the customer's phone and to Meta's template records: leave it out of params", t.Key.Value, fd.Name.Value, what)
			}
		}
	}
}
