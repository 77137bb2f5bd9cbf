package admin

import (
	"fmt"
	"strings"
)

// loginText holds the sign-in pages' words in English and Italian (the
// console's languages); the browser's Accept-Language picks one. Keys
// starting with "err_" are the error lines.
var loginText = map[string]map[string]string{
	"en": {
		"t_signin": "Sign in", "t_code": "Two-factor sign-in", "t_enrol": "Set up two-factor sign-in",
		"t_recovery": "Save your recovery codes", "t_signedin": "Signed in",
		"name": "User name", "password": "Password", "signin": "Sign in",
		"code_intro": "Signing in as %s. Enter the 6-digit code your authenticator app shows for Parley, or one of your recovery codes.",
		"code":       "Code", "verify": "Verify",
		"enrol_intro": "Your role (%s) needs a second factor. Scan this code with an authenticator app (such as FreeOTP, Aegis or Google Authenticator), then enter the 6-digit code it shows.",
		"qr_alt":      "QR code to add Parley to an authenticator app",
		"by_hand":     "Cannot scan? Add this key by hand (time-based, 6 digits, 30 seconds):",
		"enrol_code":  "Code from the app", "enrol_button": "Turn on two-factor sign-in",
		"recovery_intro": "Two-factor sign-in is on. These recovery codes let you sign in if you lose your phone; each works once. Keep them somewhere safe:",
		"shown_once":     "they are shown only now",
		"signed_in_as":   "Signed in as", "continue": "Continue to the console", "signout": "Sign out",
		"err_other_site":  "This form was sent from another site. Open the sign-in page here and try again.",
		"err_unavailable": "Sign-in is unavailable right now; try again in a minute.",
		"err_throttled":   "Too many failed sign-ins. Wait %d minutes and try again.",
		"err_missing":     "Enter your user name and your password.",
		"err_mismatch":    "That user name and password do not match.",
		"err_disabled":    "This account is disabled. Ask an administrator.",
		"err_timed_out":   "Your sign-in has timed out. Sign in again.",
		"err_expired":     "This form has expired. Reload the page and try again.",
		"err_no_code":     "Enter the code.",
		"err_enrol_code":  "That code is not right. Check the phone's clock and enter the code the app shows now.",
		"err_code":        "That code is not right, or was used already. Enter the code the app shows now.",
		"err_recovery":    "That recovery code is not right, or was used already.",
		"err_audit":       "The audit log is unavailable, so nobody can sign in right now.",
	},
	"it": {
		"t_signin": "Accedi", "t_code": "Accesso a due fattori", "t_enrol": "Attiva l'accesso a due fattori",
		"t_recovery": "Salva i codici di recupero", "t_signedin": "Accesso effettuato",
		"name": "Nome utente", "password": "Password", "signin": "Accedi",
		"code_intro": "Accesso come %s. Inserisci il codice di 6 cifre che l'app di autenticazione mostra per Parley, oppure uno dei codici di recupero.",
		"code":       "Codice", "verify": "Verifica",
		"enrol_intro": "Il tuo ruolo (%s) richiede un secondo fattore. Inquadra questo codice con un'app di autenticazione (come FreeOTP, Aegis o Google Authenticator), poi inserisci il codice di 6 cifre che mostra.",
		"qr_alt":      "Codice QR per aggiungere Parley a un'app di autenticazione",
		"by_hand":     "Non riesci a inquadrarlo? Aggiungi a mano questa chiave (basata sul tempo, 6 cifre, 30 secondi):",
		"enrol_code":  "Codice dell'app", "enrol_button": "Attiva l'accesso a due fattori",
		"recovery_intro": "L'accesso a due fattori è attivo. Questi codici di recupero ti fanno accedere se perdi il telefono; ognuno vale una volta. Conservali in un posto sicuro:",
		"shown_once":     "sono mostrati solo ora",
		"signed_in_as":   "Accesso effettuato come", "continue": "Vai alla console", "signout": "Esci",
		"err_other_site":  "Questo modulo è stato inviato da un altro sito. Apri qui la pagina di accesso e riprova.",
		"err_unavailable": "L'accesso non è disponibile in questo momento; riprova tra un minuto.",
		"err_throttled":   "Troppi accessi non riusciti. Attendi %d minuti e riprova.",
		"err_missing":     "Inserisci nome utente e password.",
		"err_mismatch":    "Nome utente e password non corrispondono.",
		"err_disabled":    "Questo account è disattivato. Rivolgiti a un amministratore.",
		"err_timed_out":   "L'accesso è scaduto. Accedi di nuovo.",
		"err_expired":     "Questo modulo è scaduto. Ricarica la pagina e riprova.",
		"err_no_code":     "Inserisci il codice.",
		"err_enrol_code":  "Il codice non è corretto. Controlla l'orologio del telefono e inserisci il codice che l'app mostra ora.",
		"err_code":        "Il codice non è corretto o è già stato usato. Inserisci il codice che l'app mostra ora.",
		"err_recovery":    "Il codice di recupero non è corretto o è già stato usato.",
		"err_audit":       "Il registro di audit non è disponibile, quindi al momento nessuno può accedere.",
	},
}

// loginLang picks "it" when the browser prefers Italian, else "en".
func loginLang(acceptLanguage string) string {
	first, _, _ := strings.Cut(acceptLanguage, ",")
	first, _, _ = strings.Cut(strings.TrimSpace(first), ";")
	tag, _, _ := strings.Cut(strings.ToLower(first), "-")
	if _, ok := loginText[tag]; ok {
		return tag
	}
	return "en"
}

// text is the page's words, with %s or %d filled by args.
func text(lang, key string, args ...any) string {
	s := loginText[lang][key]
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}
