package main

import (
	"fmt"
	"slices"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/lint"
)

func init() {
	register(&command{
		name:    "ropa",
		summary: "generate the GDPR art. 30 record of processing activities from the flows",
		usage:   "parley ropa [flags] [DIR...] [flags]",
		help: `Generates the record of processing activities (GDPR art. 30) from the flows
in DIR (default flows/): the controller and its contact, each purpose with its
legal basis, the categories of data (the declared fields) and of data
subjects, the recipients (each integration and its host, and Meta as the
processor of the WhatsApp channel), the retention of every field and of every
record the engine keeps (consent records, audit log, erasure ledger, …),
special categories, and the technical measures the engine applies (encryption
at rest, per-subject keys, pseudonymous ids, audit).

The record is written in every language the flows declare (English and
Italian headings; other languages get English headings with the flows' own
texts). Formats: md (markdown, one section per language), json, csv (one row
per language, purpose and field, then the engine's records).

It is generated from declarations only; it never reads a vault. Review it and
add what the flows cannot know (transfers outside the EEA, other processors).

Exit status: 0 when the record was written (also for flows with lint
errors: run parley lint for those), 2 on usage errors, unreadable paths or
no flow file, 3 when the output cannot be written.`,
		run: runROPA,
	})
}

// ropaRecordKinds are the records the engine keeps besides the declared
// fields, with their lifetime (docs/privacy.md sections 2, 5, 8a, 9, 10).
// They summarise, for a reader of the record, the rows of the vault's
// lifecycle table (vault.Lifecycles, docs/privacy.md section 5a) that hold
// anything about a person; TestROPACoversTheLifecycleTable keeps the two
// in step.
var ropaRecordKinds = []lint.RecordKind{
	{Name: "field",
		What:      map[string]string{"en": "one answer, sealed with the person's own key", "it": "una risposta, cifrata con la chiave propria della persona"},
		Retention: map[string]string{"en": "the field's retention, then deleted at the next sweep (within 10 minutes)", "it": "la conservazione del campo, poi cancellata al passaggio successivo (entro 10 minuti)"}},
	{Name: "consent",
		What:      map[string]string{"en": "consent given, declined or withdrawn, with time and purpose", "it": "consenso dato, negato o revocato, con data e finalità"},
		Retention: map[string]string{"en": "the proof period: the longest retention of the purpose's fields plus 1 year (evidence that collection was lawful), or until the person is erased", "it": "il periodo di prova: la conservazione più lunga dei campi della finalità più 1 anno (prova della liceità della raccolta), o fino alla cancellazione della persona"}},
	{Name: "conversation",
		What:      map[string]string{"en": "where the person is in the flow", "it": "il punto del flusso in cui si trova la persona"},
		Retention: map[string]string{"en": "the flow's conversation_retention (default 30 days) after the last message, or until the person is erased", "it": "la conversation_retention del flusso (predefinita 30 giorni) dall'ultimo messaggio, o fino alla cancellazione della persona"}},
	{Name: "messages",
		What:      map[string]string{"en": "messages received and replies waiting to be sent, sealed under a short-lived key", "it": "messaggi ricevuti e risposte in attesa di invio, cifrati con una chiave di breve durata"},
		Retention: map[string]string{"en": "unreadable within minutes of being processed or accepted by the channel (the key is destroyed); message ids kept 7 days without content to drop duplicates", "it": "illeggibili pochi minuti dopo l'elaborazione o l'accettazione da parte del canale (la chiave è distrutta); gli id dei messaggi restano 7 giorni senza contenuto per scartare i duplicati"}},
	{Name: "channel address",
		What:      map[string]string{"en": "the WhatsApp number replies go to, sealed with the person's own key, to reach them after a data breach (GDPR art. 34)", "it": "il numero WhatsApp a cui vanno le risposte, cifrato con la chiave propria della persona, per raggiungerla dopo una violazione dei dati (art. 34 GDPR)"},
		Retention: map[string]string{"en": "as long as anything else is held about the person; erased with them; who was sent a breach notification, by pseudonymous id only, 30 days", "it": "finché si conserva qualcos'altro sulla persona; cancellato con essa; a chi è stata inviata una notifica di violazione, solo con l'id pseudonimo, 30 giorni"}},
	{Name: "reminder",
		What:      map[string]string{"en": "a message a flow scheduled (template, time, the person's channel id), sealed with the person's own key", "it": "un messaggio programmato da un flusso (modello, ora, id del canale della persona), cifrato con la chiave propria della persona"},
		Retention: map[string]string{"en": "until sent, cancelled (STOP, withdrawal, erasure) or its field expires; at most 6 hours after its time", "it": "fino all'invio, all'annullamento (STOP, revoca, cancellazione) o alla scadenza del suo campo; al massimo 6 ore dopo l'ora prevista"}},
	{Name: "broadcast",
		What:      map[string]string{"en": "where a person who consented to a purpose with a message template can be reached (channel id, sealed with their own key), and to whom a broadcast was sent (pseudonymous id only)", "it": "dove raggiungere una persona che ha acconsentito a una finalità con un modello di messaggio (id del canale, cifrato con la sua chiave), e a chi è stato inviato un messaggio collettivo (solo id pseudonimo)"},
		Retention: map[string]string{"en": "the channel id until the consent is withdrawn (STOP), the person is erased, or the consent's proof period ends; broadcast progress 30 days", "it": "l'id del canale fino alla revoca del consenso (STOP), alla cancellazione della persona o alla fine del periodo di prova del consenso; l'avanzamento dell'invio 30 giorni"}},
	{Name: "recipient",
		What:      map[string]string{"en": "which integration received which fields, to notify it of erasure", "it": "quale integrazione ha ricevuto quali campi, per notificarle la cancellazione"},
		Retention: map[string]string{"en": "2 years; notices given up after 7 days", "it": "2 anni; le notifiche sono abbandonate dopo 7 giorni"}},
	{Name: "handoff",
		What:      map[string]string{"en": "messages written while a conversation was handed off to a person, and the team's replies, sealed with the person's own key", "it": "messaggi scritti mentre la conversazione era passata a una persona, e le risposte del team, cifrati con la chiave propria della persona"},
		Retention: map[string]string{"en": "the flow's handoff.transcript_retention (default 30 days), or until the person is erased", "it": "la handoff.transcript_retention del flusso (predefinita 30 giorni), o fino alla cancellazione della persona"}},
	{Name: "audit",
		What:      map[string]string{"en": "rights requests, purges, backups and restores, by pseudonymous id only", "it": "richieste degli interessati, pulizie, backup e ripristini, solo con l'id pseudonimo"},
		Retention: map[string]string{"en": "2 years", "it": "2 anni"}},
	{Name: "erasure ledger",
		What:      map[string]string{"en": "pseudonymous ids of erased people, re-applied when a backup is restored", "it": "id pseudonimi delle persone cancellate, riapplicati al ripristino di un backup"},
		Retention: map[string]string{"en": "2 years", "it": "2 anni"}},
	{Name: "staff access",
		What:      map[string]string{"en": "staff accounts (user name, role, hashed password, second factor), their sign-in sessions and API tokens; sign-ins and changes are audited", "it": "account del personale (nome utente, ruolo, password con hash, secondo fattore), sessioni di accesso e token API; accessi e modifiche sono registrati nell'audit"},
		Retention: map[string]string{"en": "accounts until removed; sessions end after 30 minutes idle or 12 hours at most; API tokens at their expiry (default 90 days) or when revoked", "it": "account fino alla rimozione; sessioni chiuse dopo 30 minuti di inattività o al massimo 12 ore; token API alla scadenza (predefinita 90 giorni) o alla revoca"}},
}

// ropaMeasures are the technical measures the engine applies to every flow
// (docs/privacy.md sections 6, 7, 9, 11).
var ropaMeasures = []lint.Measure{
	{Key: "encryption-at-rest", Text: map[string]string{
		"en": "Encryption at rest: the whole store is encrypted with a key derived from the master key, which comes only from the environment or a file.",
		"it": "Cifratura a riposo: l'intero archivio è cifrato con una chiave derivata dalla chiave master, letta solo dall'ambiente o da un file."}},
	{Key: "per-subject-keys", Text: map[string]string{
		"en": "Per-subject keys: every value about a person is sealed with AES-256-GCM under that person's own key; erasure destroys the key (crypto-shredding), then purges the records.",
		"it": "Chiavi per interessato: ogni dato di una persona è cifrato con AES-256-GCM con la sua chiave; la cancellazione distrugge la chiave (crypto-shredding) e poi elimina i record."}},
	{Key: "pseudonymous-ids", Text: map[string]string{
		"en": "Pseudonymous ids: people are stored under an HMAC-SHA256 pseudonym of their channel id, never their phone number or name.",
		"it": "Id pseudonimi: le persone sono registrate con uno pseudonimo HMAC-SHA256 del loro id di canale, mai con numero di telefono o nome."}},
	{Key: "audit", Text: map[string]string{
		"en": "Audit: rights requests, purges, backups and restores go to a hash-chained audit log anchored outside the store.",
		"it": "Audit: richieste degli interessati, pulizie, backup e ripristini sono registrati in un log concatenato da hash, ancorato fuori dall'archivio."}},
	{Key: "no-personal-data-in-logs", Text: map[string]string{
		"en": "Logs, metrics and diagnostics never hold message text, phone numbers or field values.",
		"it": "Log, metriche e diagnostica non contengono mai testo dei messaggi, numeri di telefono o valori dei campi."}},
	{Key: "retention", Text: map[string]string{
		"en": "Storage limitation: expired values are never read and are deleted from every stored version by the sweeper.",
		"it": "Limitazione della conservazione: i dati scaduti non vengono mai letti e sono cancellati da ogni versione salvata."}},
}

func runROPA(c *cli, args []string) int {
	fs := c.flags(commands["ropa"])
	format := fs.String("format", "md", "output format: md, json or csv")
	dirs, code, ok := c.parseAnywhere(fs, args)
	if !ok {
		return code
	}
	if !slices.Contains([]string{"md", "json", "csv"}, *format) {
		fmt.Fprintf(c.stderr, "parley ropa: unknown --format %q: use md, json or csv\n", *format)
		return exitUsage
	}
	if len(dirs) == 0 {
		dirs = []string{"flows"}
	}
	set, _, code := c.checkPaths("parley ropa", dirs)
	if set == nil {
		return code
	}
	rec := lint.BuildROPA(flowsOf(set), ropaRecordKinds, ropaMeasures)
	var err error
	switch *format {
	case "json":
		err = rec.WriteJSON(c.stdout)
	case "csv":
		err = rec.WriteCSV(c.stdout)
	default:
		err = rec.WriteMarkdown(c.stdout)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley ropa: write the record: %v\n", err)
		return exitFailure
	}
	if n := set.Diags.Count(diag.Error); n > 0 {
		fmt.Fprintf(c.stderr, "parley ropa: the flows have %d lint %s; the record shows what could be read: run parley lint\n", n, plural(n, "error", "errors"))
	}
	return exitOK
}
