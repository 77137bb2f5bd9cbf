package runtime

// words holds the engine's own texts in one language. English is the
// fallback for anything a language leaves out.
type words struct {
	yes, no        string   // option titles
	yesWords       []string // normalized answers meaning yes
	noWords        []string
	consentUnclear string
	retry          map[string]string // by field type
	between        string            // min, max
	atMost         string            // max length
	gaveUp         string
	myDataHead     string
	myDataEmpty    string
	remindHead     string
	remindItem     string // date and time, why
	transcriptItem string // count, until
	until          string // date
	untilEnd       string
	forPurpose     string
	consentHead    string
	consentStates  [4]string // unknown, granted, declined, withdrawn
	eraseAsk       string
	eraseDone      string
	eraseKept      string
	eraseUnclear   string
	stopDone       string
	privacyHead    string // controller, contact
	privacyItem    string // purpose description, basis, retention
	privacyFoot    string // url
	handoff        string
	// handoffAck tells a handed-off customer, once, that their messages
	// reach the team; handoffTimeoutBack and handoffTimeoutEnd that nobody
	// answered in time and what happens now; handoffClosed that a person
	// closed the conversation.
	handoffAck, handoffTimeoutBack, handoffTimeoutEnd, handoffClosed string
	tooLong                                                          string
}

var locales = map[string]*words{
	"en": {
		yes: "Yes", no: "No",
		yesWords:       []string{"yes", "y", "yeah", "yep", "true", "i agree", "agree", "ok yes"},
		noWords:        []string{"no", "n", "nope", "false", "i disagree", "no thanks"},
		consentUnclear: "Please answer Yes or No.",
		retry: map[string]string{
			"text":    "Please send your answer as a short message.",
			"email":   "That doesn't look like an email address. Please send one like name@example.com.",
			"phone":   "Please send the phone number with its country code, like +44 7700 900123.",
			"number":  "Please send a number.",
			"date":    "Please send a date like 2025-12-31 or 31/12/2025.",
			"choice":  "Please pick one of the options: tap it, or send its number.",
			"boolean": "Please answer yes or no.",
			"digits":  "Please send only digits, like 0042.",
			"url":     "Please send a web address, like https://example.com.",
		},
		between:            "It must be between %s and %s.",
		atMost:             "Please keep it under %s characters.",
		gaveUp:             "Sorry, I couldn't understand that. Let's stop here; send me a message whenever you want to start again.",
		myDataHead:         "This is what we hold about you:",
		myDataEmpty:        "We hold no answers of yours at the moment.",
		remindHead:         "Reminders we will send you:",
		remindItem:         "• %s UTC (%s)",
		transcriptItem:     "• %s messages you and our team wrote while you talked to a person (%s)",
		until:              "until %s",
		untilEnd:           "until this conversation ends",
		forPurpose:         "for",
		consentHead:        "Your consent:",
		consentStates:      [4]string{"not asked yet", "given", "declined", "withdrawn"},
		eraseAsk:           "Do you want us to erase everything we hold about you? This cannot be undone.",
		eraseDone:          "Done: everything we held about you has been erased.",
		eraseKept:          "OK, nothing was erased.",
		eraseUnclear:       "Please answer Yes to erase your data, or No to keep it.",
		stopDone:           "Done: you have withdrawn your consent, and we deleted the answers we held on it. We won't ask you anything more. Send a message whenever you want to start again.",
		privacyHead:        "Privacy: %s (%s) is responsible for your data in this chat.",
		privacyItem:        "• %s — legal basis: %s; %s",
		privacyFoot:        "Send MY DATA to see what we hold, DELETE MY DATA to erase it, STOP to withdraw your consent, HUMAN to talk to a person. Full notice: %s",
		handoff:            "I'm passing you to a person, who will reply here shortly.",
		handoffAck:         "Thanks: your message is with our team, who will reply here.",
		handoffTimeoutBack: "Sorry, nobody from our team could reply in time. Let's carry on here.",
		handoffTimeoutEnd:  "Sorry, nobody from our team could reply in time. Please write to us again later, or send a message whenever you want to start again.",
		handoffClosed:      "Our team has closed this conversation. Send a message whenever you want to start again.",
	},
	"it": {
		yes: "Sì", no: "No",
		yesWords:       []string{"si", "s", "certo", "va bene", "accetto", "ok si"},
		noWords:        []string{"no", "non accetto", "no grazie"},
		consentUnclear: "Rispondi Sì o No, per favore.",
		retry: map[string]string{
			"text":    "Mandami la risposta in un breve messaggio, per favore.",
			"email":   "Non sembra un indirizzo email. Mandamene uno come nome@esempio.it.",
			"phone":   "Mandami il numero con il prefisso internazionale, come +39 333 123 4567.",
			"number":  "Mandami un numero, per favore.",
			"date":    "Mandami una data come 31/12/2025.",
			"choice":  "Scegli una delle opzioni: toccala o mandami il suo numero.",
			"boolean": "Rispondi sì o no, per favore.",
			"digits":  "Mandami solo cifre, come 0042.",
			"url":     "Mandami un indirizzo web, come https://example.com.",
		},
		between:            "Deve essere tra %s e %s.",
		atMost:             "Resta sotto i %s caratteri, per favore.",
		gaveUp:             "Scusa, non ho capito. Ci fermiamo qui; scrivimi quando vuoi ricominciare.",
		myDataHead:         "Ecco cosa conserviamo su di te:",
		myDataEmpty:        "Al momento non conserviamo nessuna tua risposta.",
		remindHead:         "Promemoria che ti invieremo:",
		remindItem:         "• %s UTC (%s)",
		transcriptItem:     "• %s messaggi scritti da te e dal nostro team mentre parlavi con una persona (%s)",
		until:              "fino al %s",
		untilEnd:           "fino alla fine di questa conversazione",
		forPurpose:         "per",
		consentHead:        "I tuoi consensi:",
		consentStates:      [4]string{"non ancora chiesto", "dato", "negato", "revocato"},
		eraseAsk:           "Vuoi che cancelliamo tutto ciò che conserviamo su di te? Non si può annullare.",
		eraseDone:          "Fatto: abbiamo cancellato tutto ciò che conservavamo su di te.",
		eraseKept:          "Va bene, non abbiamo cancellato nulla.",
		eraseUnclear:       "Rispondi Sì per cancellare i tuoi dati, o No per tenerli.",
		stopDone:           "Fatto: hai revocato il consenso e abbiamo cancellato le risposte basate su di esso. Non ti chiederemo altro. Scrivimi quando vuoi ricominciare.",
		privacyHead:        "Privacy: %s (%s) è responsabile dei tuoi dati in questa chat.",
		privacyItem:        "• %s — base giuridica: %s; %s",
		privacyFoot:        "Scrivi I MIEI DATI per vedere cosa conserviamo, CANCELLA I MIEI DATI per cancellarlo, STOP per revocare il consenso, OPERATORE per parlare con una persona. Informativa completa: %s",
		handoff:            "Ti passo a una persona, che ti risponderà qui a breve.",
		handoffAck:         "Grazie: il tuo messaggio è arrivato al nostro team, che ti risponderà qui.",
		handoffTimeoutBack: "Scusa, nessuno del nostro team ha potuto risponderti in tempo. Continuiamo qui.",
		handoffTimeoutEnd:  "Scusa, nessuno del nostro team ha potuto risponderti in tempo. Riscrivici più tardi, o mandami un messaggio quando vuoi ricominciare.",
		handoffClosed:      "Il nostro team ha chiuso questa conversazione. Scrivimi quando vuoi ricominciare.",
	},
	"de": {yes: "Ja", no: "Nein", yesWords: []string{"ja", "j", "jawohl", "einverstanden"}, noWords: []string{"nein", "n"}},
	"fr": {yes: "Oui", no: "Non", yesWords: []string{"oui", "o", "d'accord"}, noWords: []string{"non"}},
	"es": {yes: "Sí", no: "No", yesWords: []string{"si", "s", "vale", "de acuerdo"}, noWords: []string{"no"}},
}

func init() {
	en := locales["en"]
	for _, w := range locales {
		if w.retry == nil {
			*w = words{yes: w.yes, no: w.no, yesWords: w.yesWords, noWords: w.noWords,
				consentUnclear: en.consentUnclear, retry: en.retry, between: en.between, atMost: en.atMost,
				gaveUp: en.gaveUp, myDataHead: en.myDataHead, myDataEmpty: en.myDataEmpty, until: en.until,
				remindHead: en.remindHead, remindItem: en.remindItem, transcriptItem: en.transcriptItem,
				untilEnd: en.untilEnd, forPurpose: en.forPurpose, consentHead: en.consentHead,
				consentStates: en.consentStates, eraseAsk: en.eraseAsk, eraseDone: en.eraseDone,
				eraseKept: en.eraseKept, eraseUnclear: en.eraseUnclear, stopDone: en.stopDone,
				privacyHead: en.privacyHead, privacyItem: en.privacyItem, privacyFoot: en.privacyFoot,
				handoff: en.handoff, handoffAck: en.handoffAck, handoffTimeoutBack: en.handoffTimeoutBack,
				handoffTimeoutEnd: en.handoffTimeoutEnd, handoffClosed: en.handoffClosed}
		}
	}
}

func wordsFor(lang string) *words {
	if w, ok := locales[lang]; ok {
		return w
	}
	return locales["en"]
}

// yesNo reads a yes/no answer: a tapped "yes"/"no" button, or a typed word
// of the conversation's language or of English. norm is already normalized.
func yesNo(w *words, choice, norm string) (yes, ok bool) {
	switch choice {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	for _, ws := range []*words{w, locales["en"]} {
		for _, y := range ws.yesWords {
			if norm == y {
				return true, true
			}
		}
		for _, n := range ws.noWords {
			if norm == n {
				return false, true
			}
		}
	}
	return false, false
}

// sprintf replaces each %s in f with the next argument; flow text never goes
// through fmt verbs.
func sprintf(f string, args ...string) string {
	out := make([]byte, 0, len(f)+32)
	for _, a := range args {
		i := indexPercentS(f)
		if i < 0 {
			break
		}
		out = append(out, f[:i]...)
		out = append(out, a...)
		f = f[i+2:]
	}
	return string(append(out, f...))
}

func indexPercentS(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && s[i+1] == 's' {
			return i
		}
	}
	return -1
}
