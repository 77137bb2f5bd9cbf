package main

import (
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/vault"
)

func init() {
	register(&command{
		name:    "incident",
		summary: "record a data breach, draft its notifications and notify customers",
		usage:   "parley incident keygen|add|list|show|report|notify [ID] --data DIR [flags]",
		help: `Documents a personal data breach (GDPR art. 33(5)) in the vault and helps
notify it: to the supervisory authority within 72 hours of detection
(art. 33) and, when the risk is high, to the customers concerned (art. 34).

  keygen    --out FILE: makes the address key pair. Give the public key to
            parley serve as PARLEY_ADDRESS_KEY: it then holds each WhatsApp
            customer's number sealed to it (and under the customer's own
            key). Keep FILE, the private key, away from the server: only
            notify needs it, and nobody holding the data directory and the
            master key can read a number without it.
  add       --what TEXT --kinds fields,consents,conversations,recipients
            [--purposes P,Q] [--detected RFC3339] [--subjects N]
            records an incident and prints its id. --what describes the
            breach (never a customer's data); --kinds are the record kinds
            it touched, --purposes limits them to some purposes (checked
            against --flows); --subjects is the estimated number of
            customers (default: those holding such records now).
  list      prints every incident recorded
  show ID   prints one incident as JSON
  report ID prints the art. 33 notification draft for the supervisory
            authority (controller from the flows in --flows, deadline 72
            hours after detection) and the art. 34 message to customers in
            English and Italian. Submit that message as a utility template
            without variables in WhatsApp Manager.
  notify ID --template NAME --language CODE --address-key FILE [--dry-run]
            queues the approved template for every customer the incident
            concerns (holding records of its kinds and purposes, as of
            now) whose number is held. parley serve then sends them through
            its outbox: paced, and resumed after a restart (on --data, stop
            serve first and the sends go when it starts again; on --store
            the running instances send them at once). An incident is
            notified once; an interrupted notify is resumed by running it
            again, queueing nobody twice. --dry-run prints the counts and
            sends nothing.

Every action is written to the audit log.`,
		run: runIncident,
	})
}

var incidentActions = []string{"keygen", "add", "list", "show", "report", "notify"}

// templateName is what WhatsApp Manager accepts as a template name;
// templateLang a language code such as en, it or en_US.
var (
	templateName = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLang = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
)

func runIncident(c *cli, args []string) int {
	cmd := commands["incident"]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			cmd.printHelp(c.stderr, nil)
			return exitOK
		}
		fmt.Fprintln(c.stderr, "parley incident: say what to do: "+strings.Join(incidentActions, ", "))
		return exitUsage
	}
	action := args[0]
	if !slices.Contains(incidentActions, action) {
		fmt.Fprintf(c.stderr, "parley incident: unknown action %q: use %s\n", action, strings.Join(incidentActions, ", "))
		return exitUsage
	}
	fs := c.flags(cmd)
	vf := addVaultFlags(fs, "")
	flowsDir := fs.String("flows", "flows", "add, report: the flow files or directory parley serve uses")
	out := fs.String("out", "", "keygen: file to write the private address key to")
	what := fs.String("what", "", "add: what happened (no customer data)")
	kinds := fs.String("kinds", "", "add: record kinds touched: "+strings.Join(vault.IncidentKinds, ","))
	purposes := fs.String("purposes", "", "add: purposes touched (default: every purpose)")
	detected := fs.String("detected", "", "add: when the breach was detected (RFC 3339; default now)")
	subjects := fs.Int("subjects", -1, "add: estimated number of customers concerned (default: counted from the vault)")
	nowFlag := fs.String("now", "", "report, notify: act as of this time (RFC 3339; default now)")
	tpl := fs.String("template", "", "notify: name of the approved utility template")
	lang := fs.String("language", "", "notify: the template's language code (en, it, en_US)")
	keyFile := fs.String("address-key", "", "notify: file holding the private address key (from keygen)")
	dry := fs.Bool("dry-run", false, "notify: print the counts, send nothing")
	pos, code, ok := c.parseAnywhere(fs, args[1:])
	if !ok {
		return code
	}
	needID := action == "show" || action == "report" || action == "notify"
	switch {
	case needID && len(pos) != 1:
		fmt.Fprintf(c.stderr, "parley incident %s: name the incident, for example: parley incident %s 2026-11-29-1 (see parley incident list)\n", action, action)
		return exitUsage
	case !needID && len(pos) != 0:
		fmt.Fprintf(c.stderr, "parley incident %s: unexpected argument %q\n", action, pos[0])
		return exitUsage
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintln(c.stderr, "parley incident: --now must be an RFC 3339 time such as 2026-12-31T12:00:00Z")
			return exitUsage
		}
		now = t
	}
	if action == "keygen" {
		return incidentKeygen(c, *out)
	}
	if !c.hasVault(vf) {
		fmt.Fprintf(c.stderr, "parley incident %s: name the data directory with --data DIR (or the database with --store URL)\n", action)
		return exitUsage
	}
	ic := &incidentCmd{c: c, action: action, flowsDir: *flowsDir, now: now}
	switch action {
	case "add":
		return ic.add(vf, *what, *kinds, *purposes, *detected, *subjects, flagSet(fs, "subjects"))
	case "notify":
		return ic.notify(vf, pos[0], *tpl, *lang, *keyFile, *dry)
	}
	v, err := c.openVault(vf, nil, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley incident: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	ic.v = v
	switch action {
	case "list":
		return ic.list()
	case "show":
		return ic.show(pos[0])
	}
	return ic.report(pos[0])
}

type incidentCmd struct {
	c        *cli
	v        *vault.Vault
	action   string
	flowsDir string
	now      time.Time
}

func (ic *incidentCmd) fail(format string, a ...any) int {
	fmt.Fprintf(ic.c.stderr, "parley incident "+ic.action+": "+format+"\n", a...)
	return exitFailure
}

func (ic *incidentCmd) usage(format string, a ...any) int {
	fmt.Fprintf(ic.c.stderr, "parley incident "+ic.action+": "+format+"\n", a...)
	return exitUsage
}

func (ic *incidentCmd) audit(id, outcome string, detail map[string]string) {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["incident"] = id
	if err := ic.v.Audit("cli", "incident."+ic.action+":"+outcome, "", detail); err != nil {
		fmt.Fprintf(ic.c.stderr, "parley incident: writing the audit log: %v\n", err)
	}
}

// get loads an incident, saying what to do when the id is unknown.
func (ic *incidentCmd) get(id string) (vault.Incident, int, bool) {
	in, err := ic.v.GetIncident(id)
	switch {
	case errors.Is(err, vault.ErrNotFound):
		return in, ic.usage("no incident %q in this vault: 'parley incident list' shows the ids", id), false
	case err != nil:
		return in, ic.fail("%v", err), false
	}
	return in, 0, true
}

func incidentKeygen(c *cli, out string) int {
	if out == "" {
		fmt.Fprintln(c.stderr, "parley incident keygen: name the file for the private key with --out FILE (keep it off the server)")
		return exitUsage
	}
	pub, priv, err := vault.NewAddressKey()
	if err != nil {
		fmt.Fprintf(c.stderr, "parley incident keygen: %v\n", err)
		return exitFailure
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley incident keygen: %v (an existing key is never overwritten)\n", err)
		return exitFailure
	}
	_, err = fmt.Fprintln(f, priv)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley incident keygen: writing %s: %v\n", out, err)
		return exitFailure
	}
	fmt.Fprintf(c.stderr, "private address key written to %s: keep it off the server; 'parley incident notify --address-key' needs it\n", out)
	fmt.Fprintf(c.stdout, "PARLEY_ADDRESS_KEY=%s\n", pub)
	return exitOK
}

// splitCSV splits a comma-separated flag value, dropping empty items.
func splitCSV(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (ic *incidentCmd) loadFlows() (*server.Flows, int, bool) {
	f, report, err := server.LoadFlows(ic.flowsDir)
	fmt.Fprint(ic.c.stderr, report)
	if err != nil {
		code := ic.fail("the flows in --flows %s cannot be used (%v): point --flows at the flow files 'parley serve' uses", ic.flowsDir, err)
		if errors.Is(err, server.ErrFlowErrors) {
			code = exitFindings
		}
		return nil, code, false
	}
	return f, 0, true
}

func (ic *incidentCmd) add(vf vaultFlags, what, kinds, purposes, detected string, subjects int, subjectsSet bool) int {
	in := vault.Incident{What: strings.TrimSpace(what), Kinds: splitCSV(kinds), Purposes: splitCSV(purposes), DetectedAt: ic.now}
	switch {
	case in.What == "":
		return ic.usage("say what happened with --what, for example --what \"backup disk stolen from the office\" (describe the breach, never a customer)")
	case len(in.Kinds) == 0:
		return ic.usage("name the record kinds the breach touched with --kinds, among %s", strings.Join(vault.IncidentKinds, ", "))
	case subjectsSet && subjects < 0:
		return ic.usage("--subjects is a number of customers, 0 or more")
	}
	for _, k := range in.Kinds {
		if !slices.Contains(vault.IncidentKinds, k) {
			return ic.usage("unknown record kind %q: use %s", k, strings.Join(vault.IncidentKinds, ", "))
		}
	}
	if detected != "" {
		t, err := time.Parse(time.RFC3339, detected)
		if err != nil {
			return ic.usage("--detected must be an RFC 3339 time such as 2026-11-29T09:30:00Z")
		}
		if t.After(ic.now) {
			return ic.usage("--detected is in the future")
		}
		in.DetectedAt = t
	}
	if len(in.Purposes) > 0 {
		flows, code, ok := ic.loadFlows()
		if !ok {
			return code
		}
		declared := map[string]bool{}
		for _, p := range flows.All() {
			for _, pu := range p.Purposes() {
				declared[pu.Name] = true
			}
		}
		for _, p := range in.Purposes {
			if !declared[p] {
				return ic.usage("no flow in %s declares the purpose %q", ic.flowsDir, p)
			}
		}
	}
	v, err := ic.c.openVault(vf, nil, nil)
	if err != nil {
		return ic.fail("%v", err)
	}
	defer v.Close()
	ic.v = v
	counted := ""
	if !subjectsSet {
		n, err := v.CountAffected(in, ic.now)
		if err != nil {
			return ic.fail("%v", err)
		}
		subjects, counted = n, " (customers holding such records now)"
	}
	in.EstimatedSubjects = subjects
	rec, err := v.AddIncident(in, time.Now())
	if err != nil {
		return ic.fail("%v", err)
	}
	ic.audit(rec.ID, "ok", map[string]string{"kinds": strings.Join(rec.Kinds, ","), "purposes": strings.Join(rec.Purposes, ","), "subjects": strconv.Itoa(subjects)})
	fmt.Fprintf(ic.c.stdout, "incident %s recorded: %d customers estimated%s; notify the supervisory authority by %s\n",
		rec.ID, subjects, counted, deadline(rec).Format(reportTime))
	fmt.Fprintf(ic.c.stderr, "next: parley incident report %s --data DIR --flows DIR\n", rec.ID)
	return exitOK
}

// deadline is the art. 33(1) deadline: 72 hours after detection.
func deadline(in vault.Incident) time.Time { return in.DetectedAt.Add(72 * time.Hour) }

const reportTime = "2006-01-02 15:04 MST"

func listOrAll(xs []string, all string) string {
	if len(xs) == 0 {
		return all
	}
	return strings.Join(xs, ", ")
}

func (ic *incidentCmd) list() int {
	ins, err := ic.v.Incidents()
	if err != nil {
		return ic.fail("%v", err)
	}
	if len(ins) == 0 {
		fmt.Fprintln(ic.c.stderr, "no incident recorded")
		return exitOK
	}
	w := ic.c.stdout
	fmt.Fprintf(w, "%-14s  %-20s  %-8s  %s\n", "ID", "DETECTED", "SUBJECTS", "NOTIFIED")
	for _, in := range ins {
		notified := "no"
		if !in.NotifiedAt.IsZero() {
			notified = fmt.Sprintf("%d customers, %s", in.Notified, in.NotifiedAt.Format(reportTime))
		}
		fmt.Fprintf(w, "%-14s  %-20s  %-8d  %s\n", in.ID, in.DetectedAt.Format(reportTime), in.EstimatedSubjects, notified)
	}
	return exitOK
}

// incidentJSON is the JSON shape of show.
type incidentJSON struct {
	ID                string     `json:"id"`
	What              string     `json:"what"`
	DetectedAt        time.Time  `json:"detected_at"`
	AuthorityDeadline time.Time  `json:"authority_deadline"`
	RecordedAt        time.Time  `json:"recorded_at"`
	Kinds             []string   `json:"kinds"`
	Purposes          []string   `json:"purposes"`
	EstimatedSubjects int        `json:"estimated_subjects"`
	NotifiedAt        *time.Time `json:"notified_at,omitempty"`
	Notified          int        `json:"notified"`
	Template          string     `json:"template,omitempty"`
	Language          string     `json:"language,omitempty"`
	KeepUntil         time.Time  `json:"keep_until"`
}

func (ic *incidentCmd) show(id string) int {
	in, code, ok := ic.get(id)
	if !ok {
		return code
	}
	j := incidentJSON{ID: in.ID, What: in.What, DetectedAt: in.DetectedAt, AuthorityDeadline: deadline(in), RecordedAt: in.RecordedAt,
		Kinds: in.Kinds, Purposes: in.Purposes, EstimatedSubjects: in.EstimatedSubjects, Notified: in.Notified,
		Template: in.Template, Language: in.Language, KeepUntil: in.KeepUntil}
	if j.Purposes == nil {
		j.Purposes = []string{}
	}
	if !in.NotifiedAt.IsZero() {
		j.NotifiedAt = &in.NotifiedAt
	}
	enc := json.NewEncoder(ic.c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return exitFailure
	}
	return exitOK
}

func (ic *incidentCmd) report(id string) int {
	in, code, ok := ic.get(id)
	if !ok {
		return code
	}
	flows, code, ok := ic.loadFlows()
	if !ok {
		return code
	}
	writeIncidentReport(ic.c.stdout, in, flows.All(), ic.now)
	ic.audit(in.ID, "ok", nil)
	return exitOK
}

// kindNames are the record kinds in the report's words.
var kindNames = map[string][2]string{
	"fields":        {"answers customers gave in conversations", "risposte date dai clienti nelle conversazioni"},
	"consents":      {"consent records (what was agreed, when)", "registrazioni del consenso (cosa è stato accettato, quando)"},
	"conversations": {"conversation progress", "stato delle conversazioni"},
	"recipients":    {"records of data sent to integrations", "registrazioni dei dati inviati alle integrazioni"},
}

// kindNamesCustomer are the record kinds in the customer's words.
var kindNamesCustomer = map[string][2]string{
	"fields":        {"your answers", "le tue risposte"},
	"consents":      {"the record of your consent", "la registrazione del tuo consenso"},
	"conversations": {"where you were in the conversation", "il punto in cui eri nella conversazione"},
	"recipients":    {"which partners received your data", "quali partner hanno ricevuto i tuoi dati"},
}

// writeIncidentReport writes the art. 33 draft and the art. 34 messages.
// Everything in it comes from the incident record, the flows and now, so
// the same inputs give the same bytes.
func writeIncidentReport(w io.Writer, in vault.Incident, progs []*compile.Program, now time.Time) {
	var controllers []compile.Controller
	var fields []string
	affected := func(purpose string) bool { return len(in.Purposes) == 0 || slices.Contains(in.Purposes, purpose) }
	for _, p := range progs {
		touched := false
		for _, pu := range p.Purposes() {
			if !affected(pu.Name) {
				continue
			}
			touched = true
			if slices.Contains(in.Kinds, "fields") {
				for _, fi := range pu.Fields {
					if f := p.FieldAt(fi); !slices.Contains(fields, f.Name) {
						fields = append(fields, f.Name)
					}
				}
			}
		}
		if ctl := p.Controller(); touched && ctl.Name != "" && !slices.Contains(controllers, ctl) {
			controllers = append(controllers, ctl)
		}
	}
	slices.Sort(fields)
	slices.SortFunc(controllers, func(a, b compile.Controller) int { return strings.Compare(a.Name, b.Name) })
	var kinds, yours [2][]string
	for _, k := range in.Kinds {
		kinds[0] = append(kinds[0], kindNames[k][0])
		kinds[1] = append(kinds[1], kindNames[k][1])
		yours[0] = append(yours[0], kindNamesCustomer[k][0])
		yours[1] = append(yours[1], kindNamesCustomer[k][1])
	}
	if len(fields) > 0 {
		fl := " (" + strings.Join(fields, ", ") + ")"
		for i := range yours {
			if j := slices.Index(in.Kinds, "fields"); j >= 0 {
				yours[i][j] += fl
			}
		}
	}
	dl := deadline(in)
	fmt.Fprintf(w, "# Personal data breach %s\n\n", in.ID)
	fmt.Fprintf(w, "## Notification to the supervisory authority (GDPR art. 33) - DRAFT\n\n")
	fmt.Fprintf(w, "Deadline: %s, 72 hours after the breach was detected (%s).\n", dl.Format(reportTime), in.DetectedAt.Format(reportTime))
	if left := dl.Sub(now); left > 0 {
		fmt.Fprintf(w, "As of %s: %s left.\n\n", now.UTC().Format(reportTime), roundHours(left))
	} else {
		fmt.Fprintf(w, "As of %s: the deadline passed %s ago. A late notification must give the reasons for the delay (art. 33(1)).\n\n", now.UTC().Format(reportTime), roundHours(-left))
	}
	fmt.Fprintf(w, "1. Controller\n")
	if len(controllers) == 0 {
		fmt.Fprintf(w, "   [no flow in --flows declares a controller: add controller: to the flows]\n")
	}
	for _, ctl := range controllers {
		fmt.Fprintf(w, "   %s, contact: %s", ctl.Name, ctl.Contact)
		if ctl.PrivacyURL != "" {
			fmt.Fprintf(w, ", privacy notice: %s", ctl.PrivacyURL)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "2. Nature of the breach (art. 33(3)(a))\n")
	fmt.Fprintf(w, "   What happened: %s\n", in.What)
	fmt.Fprintf(w, "   Detected: %s\n", in.DetectedAt.Format(reportTime))
	fmt.Fprintf(w, "   Records concerned: %s\n", strings.Join(kinds[0], "; "))
	fmt.Fprintf(w, "   Purposes concerned: %s\n", listOrAll(in.Purposes, "all purposes"))
	if len(fields) > 0 {
		fmt.Fprintf(w, "   Categories of personal data: %s\n", strings.Join(fields, ", "))
	}
	fmt.Fprintf(w, "   Customers concerned (estimate): %d\n", in.EstimatedSubjects)
	fmt.Fprintf(w, "3. Contact point for more information (art. 33(3)(b))\n")
	for _, ctl := range controllers {
		fmt.Fprintf(w, "   %s\n", ctl.Contact)
	}
	fmt.Fprintf(w, "4. Likely consequences (art. 33(3)(c))\n   [to be completed by the controller]\n")
	fmt.Fprintf(w, "5. Measures taken or proposed (art. 33(3)(d))\n")
	fmt.Fprintf(w, "   Every value about a customer is encrypted with AES-256-GCM under that customer's own key, inside a store encrypted with a key derived from the master key; customers are stored under pseudonyms. If the master key was not exposed, the data cannot be read.\n")
	fmt.Fprintf(w, "   [describe what was done to contain the breach and to prevent another]\n")
	switch {
	case !in.NotifiedAt.IsZero():
		fmt.Fprintf(w, "   Customers were notified on %s (%d messages, template %s/%s).\n", in.NotifiedAt.Format(reportTime), in.Notified, in.Template, in.Language)
	default:
		fmt.Fprintf(w, "   Customers have not been notified yet (parley incident notify %s).\n", in.ID)
	}
	var names, contacts []string
	for _, ctl := range controllers {
		names, contacts = append(names, ctl.Name), append(contacts, ctl.Contact)
	}
	name, contact := strings.Join(names, " / "), strings.Join(contacts, " / ")
	day := in.DetectedAt.Format(time.DateOnly)
	fmt.Fprintf(w, "\n## Message to the customers concerned (GDPR art. 34)\n\n")
	fmt.Fprintf(w, "Submit each text as a utility template without variables in WhatsApp Manager, then send it with parley incident notify.\n\n")
	fmt.Fprintf(w, "### en\n\n")
	fmt.Fprintf(w, "Important notice from %s. On %s we found a security incident that may have affected data you gave us in this chat: %s. What happened: %s. We have acted to contain it and have informed the data protection authority. Please be careful with unexpected messages that ask for your details, and never share codes or passwords. For questions, or to have your data deleted, write to %s or reply DELETE MY DATA.\n\n",
		name, day, strings.Join(yours[0], "; "), in.What, contact)
	fmt.Fprintf(w, "### it\n\n")
	fmt.Fprintf(w, "Avviso importante da %s. Il %s abbiamo rilevato un incidente di sicurezza che potrebbe aver riguardato dati che ci hai fornito in questa chat: %s. Cosa è successo: %s. Abbiamo agito per contenerlo e abbiamo informato l'autorità per la protezione dei dati. Fai attenzione ai messaggi inattesi che chiedono i tuoi dati e non condividere mai codici o password. Per domande, o per far cancellare i tuoi dati, scrivi a %s o rispondi CANCELLA I MIEI DATI.\n",
		name, day, strings.Join(yours[1], "; "), in.What, contact)
}

// roundHours says a duration in whole hours (and minutes under one hour).
func roundHours(d time.Duration) string {
	if d < time.Hour {
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return fmt.Sprintf("%d hours", int(d.Hours()))
}

func (ic *incidentCmd) notify(vf vaultFlags, id, tpl, lang, keyFile string, dry bool) int {
	switch {
	case !templateName.MatchString(tpl):
		return ic.usage("give the approved template's name with --template, as WhatsApp Manager shows it (lower case letters, digits and _), for example --template breach_notice")
	case !templateLang.MatchString(lang):
		return ic.usage("give the template's language code with --language, for example --language en or --language it")
	case keyFile == "" && !dry:
		return ic.usage("give the private address key with --address-key FILE (from parley incident keygen): the customers' numbers are sealed to it")
	}
	var priv *ecdh.PrivateKey
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return ic.fail("reading --address-key: %v", err)
		}
		if priv, err = vault.ParseAddressPrivateKey(string(b)); err != nil {
			return ic.usage("--address-key %s: %v", keyFile, err)
		}
	}
	v, err := ic.c.openVault(vf, nil, nil)
	if err != nil {
		return ic.fail("%v", err)
	}
	defer v.Close()
	ic.v = v
	in, code, ok := ic.get(id)
	if !ok {
		return code
	}
	if !in.NotifiedAt.IsZero() {
		return ic.usage("incident %s was notified on %s (%d customers); a second notification is not sent", in.ID, in.NotifiedAt.Format(reportTime), in.Notified)
	}
	aud, err := v.IncidentAudience(id, priv, ic.now)
	if errors.Is(err, vault.ErrWrongAddressKey) {
		return ic.usage("--address-key %s does not open the numbers held: it is not the private half of the server's PARLEY_ADDRESS_KEY", keyFile)
	}
	if err != nil {
		return ic.fail("%v", err)
	}
	held := 0
	for _, a := range aud {
		if a.Held && (priv == nil || a.Channel == whatsapp.ChannelName) {
			held++
		}
	}
	if dry {
		fmt.Fprintf(ic.c.stdout, "incident %s concerns %d customers; %d can be reached on WhatsApp, %d cannot (no number held: they wrote before PARLEY_ADDRESS_KEY was set, or not on WhatsApp)\ndry run: nothing queued; template %s/%s\n",
			in.ID, len(aud), held, len(aud)-held, tpl, lang)
		ic.audit(in.ID, "dry-run", map[string]string{"audience": strconv.Itoa(len(aud)), "reachable": strconv.Itoa(held)})
		return exitOK
	}
	queued := time.Now()
	n, err := v.NotifyIncident(id, whatsapp.ChannelName, tpl, lang, priv, func(user string) []byte {
		return host.OutboxPayload(whatsapp.ChannelName, whatsapp.TemplateOutbound(user, tpl, lang), queued)
	}, ic.now)
	switch {
	case errors.Is(err, vault.ErrIncidentNotified):
		return ic.usage("incident %s was notified meanwhile; a second notification is not sent", in.ID)
	case err != nil:
		ic.audit(in.ID, "failed", map[string]string{"queued": strconv.Itoa(n)})
		return ic.fail("%v; %d customers were queued before it stopped: run the same command again to queue the rest (nobody is queued twice)", err, n)
	}
	ic.audit(in.ID, "ok", map[string]string{"queued": strconv.Itoa(n), "audience": strconv.Itoa(len(aud)), "template": tpl, "language": lang})
	if v.Shared() {
		// The running instances claim outbox entries from the database.
		fmt.Fprintf(ic.c.stdout, "incident %s: %d of %d customers queued for template %s/%s; the parley serve instances on this database send them now, paced (if none runs, the next one to start, within %s, or they are given up)\n",
			in.ID, n, len(aud), tpl, lang, host.MaxReplyAge)
		return exitOK
	}
	fmt.Fprintf(ic.c.stdout, "incident %s: %d of %d customers queued for template %s/%s; parley serve sends them, paced, when it next starts (within %s, or they are given up)\n",
		in.ID, n, len(aud), tpl, lang, host.MaxReplyAge)
	return exitOK
}
