package lint

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/flow"
)

// RecordKind is a kind of record the engine keeps about a person besides
// the fields a flow declares (consent records, audit entries, the erasure
// ledger, …), with what it holds and how long it lives, in each language.
// lint does not know the storage: the caller passes the kinds in (cmd
// wires the vault's lifecycle table), so the record stays one source of
// truth.
type RecordKind struct {
	Name      string            `json:"name"`
	What      map[string]string `json:"what"`
	Retention map[string]string `json:"retention"`
}

// Measure is a technical or organisational measure the engine applies to
// every flow, by key, with its description in each language.
type Measure struct {
	Key  string            `json:"key"`
	Text map[string]string `json:"text"`
}

// ROPA is the record of processing activities (GDPR art. 30(1)) generated
// from flows: one activity per flow and purpose.
type ROPA struct {
	Version     int           `json:"version"`
	Languages   []string      `json:"languages"`
	Controllers []Controller  `json:"controllers"`
	Activities  []Activity    `json:"activities"`
	Recipients  []ROPARecip   `json:"recipients"`
	RecordKinds []RecordKind  `json:"record_kinds"`
	Measures    []Measure     `json:"measures"`
	Special     []string      `json:"special_categories"`
	Flows       []ROPAFlowRef `json:"flows"`
}

// ROPAFlowRef names a flow the record was generated from.
type ROPAFlowRef struct {
	ID   string `json:"id"`
	File string `json:"file"`
}

// Activity is one processing activity: a purpose of one flow.
type Activity struct {
	Flow        string            `json:"flow"`
	Purpose     string            `json:"purpose"`
	Description map[string]string `json:"description"`
	Basis       string            `json:"basis"`
	Controller  Controller        `json:"controller"`
	Subjects    map[string]string `json:"data_subjects"`
	Data        []ROPAData        `json:"data"`
	Recipients  []string          `json:"recipients"`
}

// ROPAData is one category of personal data: a declared field.
type ROPAData struct {
	Field     string            `json:"field"`
	Label     map[string]string `json:"label,omitempty"`
	Type      string            `json:"type"`
	Retention string            `json:"retention"`
	Special   string            `json:"special_category,omitempty"`
}

// ROPARecip is a recipient of personal data.
type ROPARecip struct {
	Name    string            `json:"name"`
	Role    map[string]string `json:"role"`
	Host    string            `json:"host"`
	Flow    string            `json:"flow,omitempty"`
	Purpose string            `json:"purpose,omitempty"`
	Data    []string          `json:"data,omitempty"`
}

// metaRecipient is the channel's processor: every WhatsApp message passes
// through Meta's Cloud API, whatever the flow declares.
const metaRecipient = "Meta Platforms Ireland Ltd (WhatsApp Business Platform)"

// BuildROPA generates the record from flows (in the order given), the
// record kinds the engine keeps and the measures it applies.
func BuildROPA(flows []*flow.Flow, kinds []RecordKind, measures []Measure) *ROPA {
	r := &ROPA{Version: 1, RecordKinds: kinds, Measures: measures}
	if r.RecordKinds == nil {
		r.RecordKinds = []RecordKind{}
	}
	if r.Measures == nil {
		r.Measures = []Measure{}
	}
	langs := map[string]bool{}
	special := map[string]bool{}
	for _, inv := range Inventories(flows) {
		r.Flows = append(r.Flows, ROPAFlowRef{ID: inv.Flow, File: inv.File})
		for _, l := range inv.Languages {
			langs[l] = true
		}
		if inv.Controller.Name != "" && !slices.Contains(r.Controllers, inv.Controller) {
			r.Controllers = append(r.Controllers, inv.Controller)
		}
		for _, p := range inv.Purposes {
			a := Activity{Flow: inv.Flow, Purpose: p.Name, Description: p.Description, Basis: p.Basis, Controller: inv.Controller,
				Subjects: words(func(w ropaWords) string { return fmt.Sprintf(w.subjects, inv.Flow) }), Data: []ROPAData{}, Recipients: []string{metaRecipient}}
			for _, f := range inv.Fields {
				if f.Purpose != p.Name {
					continue
				}
				a.Data = append(a.Data, ROPAData{Field: f.Name, Label: f.Label, Type: f.Type, Retention: f.Retention, Special: f.Special})
				if f.Special != "" {
					special[f.Special] = true
				}
			}
			for _, in := range inv.Integrations {
				if in.Purpose == p.Name && len(in.Sends) > 0 {
					a.Recipients = append(a.Recipients, in.Name)
				}
			}
			r.Activities = append(r.Activities, a)
		}
		for _, in := range inv.Integrations {
			r.Recipients = append(r.Recipients, ROPARecip{Name: in.Name, Host: in.Host, Flow: inv.Flow, Purpose: in.Purpose, Data: in.Sends,
				Role: words(func(w ropaWords) string { return w.integration })})
		}
	}
	r.Recipients = append([]ROPARecip{{Name: metaRecipient, Host: "graph.facebook.com",
		Role: words(func(w ropaWords) string { return w.meta })}}, r.Recipients...)
	for l := range langs {
		r.Languages = append(r.Languages, l)
	}
	sort.Strings(r.Languages)
	if len(r.Languages) == 0 {
		r.Languages = []string{"en"}
	}
	for s := range special {
		r.Special = append(r.Special, s)
	}
	sort.Strings(r.Special)
	if r.Special == nil {
		r.Special = []string{}
	}
	return r
}

// WriteJSON writes the record as indented JSON.
func (r *ROPA) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// writeJSON writes v indented, without HTML escaping (the reports are read
// by people and tools, not embedded in pages).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteMarkdown writes the record once per language the flows declare, in
// that language (headings and fixed texts in English and Italian; other
// languages get English headings with the flows' own texts).
func (r *ROPA) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i, lang := range r.Languages {
		if i > 0 {
			bw.WriteString("\n---\n\n")
		}
		r.writeMarkdown(bw, lang)
	}
	return bw.Flush()
}

func (r *ROPA) writeMarkdown(bw *bufio.Writer, lang string) {
	wd := wordsFor(lang)
	fmt.Fprintf(bw, "# %s\n\n%s\n", wd.title, fmt.Sprintf(wd.generated, len(r.Flows), lang))
	fmt.Fprintf(bw, "\n## %s\n\n", wd.controller)
	if len(r.Controllers) == 0 {
		fmt.Fprintf(bw, "%s\n", wd.none)
	}
	for _, c := range r.Controllers {
		fmt.Fprintf(bw, "- %s — %s: %s", mdCell(c.Name), wd.contact, orDash(c.Contact))
		if c.PrivacyURL != "" {
			fmt.Fprintf(bw, " — %s", mdCell(c.PrivacyURL))
		}
		bw.WriteString("\n")
	}
	fmt.Fprintf(bw, "\n## %s\n", wd.activities)
	for _, a := range r.Activities {
		fmt.Fprintf(bw, "\n### %s: %s\n\n", mdCell(a.Flow), mdCell(a.Purpose))
		fmt.Fprintf(bw, "- %s: %s\n", wd.purpose, orDash(inLang(a.Description, lang)))
		fmt.Fprintf(bw, "- %s: %s\n", wd.basis, orDash(basisWords(a.Basis, wd)))
		fmt.Fprintf(bw, "- %s: %s\n", wd.subjects0, inLang(a.Subjects, lang))
		fmt.Fprintf(bw, "- %s: %s\n", wd.recipients, strings.Join(a.Recipients, ", "))
		fmt.Fprintf(bw, "\n| %s | %s | %s | %s | %s |\n|---|---|---|---|---|\n", wd.field, wd.label, wd.typ, wd.retention, wd.special)
		for _, d := range a.Data {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n", mdCell(d.Field), orDash(inLang(d.Label, lang)), orDash(d.Type), retentionWords(d.Retention, wd), orDash(d.Special))
		}
		if len(a.Data) == 0 {
			fmt.Fprintf(bw, "| — | %s | | | |\n", wd.none)
		}
	}
	fmt.Fprintf(bw, "\n## %s\n\n| %s | %s | %s | %s | %s |\n|---|---|---|---|---|\n", wd.recipients, wd.recipient, wd.role, wd.host, wd.purpose, wd.data)
	for _, rc := range r.Recipients {
		data := strings.Join(rc.Data, ", ")
		if rc.Name == metaRecipient {
			data = wd.allMessages
		}
		purpose := rc.Purpose
		if rc.Flow != "" {
			purpose = rc.Flow + ": " + purpose
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n", mdCell(rc.Name), inLang(rc.Role, lang), orDash(rc.Host), orDash(purpose), orDash(data))
	}
	fmt.Fprintf(bw, "\n## %s\n\n", wd.specialH)
	if len(r.Special) == 0 {
		fmt.Fprintf(bw, "%s\n", wd.none)
	} else {
		fmt.Fprintf(bw, "%s\n", strings.Join(r.Special, ", "))
	}
	fmt.Fprintf(bw, "\n## %s\n\n%s\n\n| %s | %s | %s |\n|---|---|---|\n", wd.retentionH, wd.retentionNote, wd.record, wd.what, wd.retention)
	for _, k := range r.RecordKinds {
		fmt.Fprintf(bw, "| %s | %s | %s |\n", mdCell(k.Name), orDash(inLang(k.What, lang)), orDash(inLang(k.Retention, lang)))
	}
	fmt.Fprintf(bw, "\n## %s\n\n", wd.measures)
	for _, m := range r.Measures {
		fmt.Fprintf(bw, "- %s\n", mdCell(inLang(m.Text, lang)))
	}
}

// ropaCSVHeader is the CSV header; one row per language, activity and
// field, then one per language and record kind (flow "(engine)").
var ropaCSVHeader = []string{"language", "controller", "contact", "flow", "purpose", "purpose_description", "basis",
	"data_subjects", "field", "label", "type", "retention", "special_category", "recipients"}

// WriteCSV writes the record as CSV for a spreadsheet.
func (r *ROPA) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(ropaCSVHeader)
	for _, lang := range r.Languages {
		wd := wordsFor(lang)
		for _, a := range r.Activities {
			row := func(d ROPAData) []string {
				return []string{lang, a.Controller.Name, a.Controller.Contact, a.Flow, a.Purpose, inLang(a.Description, lang), basisWords(a.Basis, wd),
					inLang(a.Subjects, lang), d.Field, inLang(d.Label, lang), d.Type, retentionWords(d.Retention, wd), d.Special, strings.Join(a.Recipients, "; ")}
			}
			for _, d := range a.Data {
				cw.Write(row(d))
			}
			if len(a.Data) == 0 {
				cw.Write(row(ROPAData{}))
			}
		}
		for _, k := range r.RecordKinds {
			cw.Write([]string{lang, "", "", "(engine)", "", inLang(k.What, lang), "", "", k.Name, "", "", inLang(k.Retention, lang), "", ""})
		}
	}
	cw.Flush()
	return cw.Error()
}

// inLang picks lang from m, then English, then any text.
func inLang(m map[string]string, lang string) string {
	if s, ok := m[lang]; ok {
		return s
	}
	if s, ok := m["en"]; ok {
		return s
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		return m[keys[0]]
	}
	return ""
}

// retentionWords renders a retention for a person: "30 days", "until the
// conversation ends", "not stored".
func retentionWords(s string, wd ropaWords) string {
	r, err := flow.ParseRetention(s)
	if err != nil {
		return orDash(s)
	}
	switch r.Kind {
	case flow.RetainSession:
		return wd.session
	case flow.RetainTransient:
		return wd.transient
	}
	day := 24 * time.Hour
	switch {
	case r.For%(365*day) == 0:
		return count(int(r.For/(365*day)), wd.year, wd.years)
	case r.For%day == 0:
		return count(int(r.For/day), wd.day, wd.days)
	case r.For%time.Hour == 0:
		return count(int(r.For/time.Hour), wd.hour, wd.hours)
	}
	return count(int(r.For/time.Minute), wd.minute, wd.minutes)
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func basisWords(basis string, wd ropaWords) string {
	if s, ok := wd.bases[basis]; ok {
		return s
	}
	return basis
}
