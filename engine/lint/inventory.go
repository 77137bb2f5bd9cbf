package lint

import (
	"net/url"
	"sort"
	"time"

	"github.com/parleyhq/parley/engine/flow"
)

// Inventory is what one flow collects, why, on which legal basis, for how
// long and who receives it: the data behind the summary, the privacy diff
// and the record of processing. It is read from the flow as written, so
// it also describes a flow that has errors, as far as it could be read.
type Inventory struct {
	Flow         string // the flow's id, or its file name when it has none
	File         string
	Languages    []string // as declared; "en" when none are
	Controller   Controller
	Purposes     []InventoryPurpose
	Fields       []InventoryField
	Integrations []Recipient
}

// Controller is who decides why and how the data is processed.
type Controller struct {
	Name, Contact, PrivacyURL string
}

// InventoryPurpose is one declared purpose.
type InventoryPurpose struct {
	Name        string
	Basis       string            // consent, contract, …; "" when not declared
	Description map[string]string // by language
}

// InventoryField is one declared field.
type InventoryField struct {
	Name       string
	Type       string
	Purpose    string
	Basis      string // the basis of its purpose
	Retention  string // as written: 30d, session, transient
	Special    string // special category, or ""
	Label      map[string]string
	Recipients []string // integrations that receive it, by name
}

// Recipient is an integration: where the data goes and why.
type Recipient struct {
	Name    string
	Host    string // the URL's host, without credentials or path
	Purpose string
	Sends   []string
}

// Inventories reads the inventory of each flow, in the order given.
func Inventories(fs []*flow.Flow) []*Inventory {
	out := make([]*Inventory, 0, len(fs))
	for _, f := range fs {
		out = append(out, InventoryOf(f))
	}
	return out
}

// InventoryOf reads the inventory of one flow.
func InventoryOf(f *flow.Flow) *Inventory {
	inv := &Inventory{Flow: f.ID.Value}
	if f.File != nil {
		inv.File = f.File.Name
	}
	if inv.Flow == "" {
		inv.Flow = inv.File
	}
	for _, l := range f.Languages {
		inv.Languages = append(inv.Languages, l.Value)
	}
	if len(inv.Languages) == 0 {
		inv.Languages = []string{"en"}
	}
	if c := f.Controller; c != nil {
		inv.Controller = Controller{Name: c.Name.Value, Contact: c.Contact.Value, PrivacyURL: c.PrivacyURL.Value}
	}
	basis := map[string]string{}
	for _, p := range f.Purposes {
		basis[p.Name.Value] = p.Basis.Value
		inv.Purposes = append(inv.Purposes, InventoryPurpose{Name: p.Name.Value, Basis: p.Basis.Value, Description: byLanguage(p.Description, inv.Languages)})
	}
	receives := map[string][]string{}
	for _, in := range f.Integrations {
		r := Recipient{Name: in.Name.Value, Host: hostOf(in.URL.Value), Purpose: in.Purpose.Value}
		for _, s := range in.Sends {
			r.Sends = append(r.Sends, s.Value)
			receives[s.Value] = append(receives[s.Value], r.Name)
		}
		inv.Integrations = append(inv.Integrations, r)
	}
	for _, fd := range f.Fields {
		name := fd.Name.Value
		rs := receives[name]
		sort.Strings(rs)
		inv.Fields = append(inv.Fields, InventoryField{
			Name: name, Type: fd.Type.Value, Purpose: fd.Purpose.Value, Basis: basis[fd.Purpose.Value],
			Retention: fd.Retention.Value, Special: fd.Special.Value, Label: byLanguage(fd.Label, inv.Languages), Recipients: rs,
		})
	}
	return inv
}

// byLanguage returns t in each of langs; nil when t is not set.
func byLanguage(t *flow.Text, langs []string) map[string]string {
	if t == nil {
		return nil
	}
	out := make(map[string]string, len(langs))
	for _, l := range langs {
		out[l] = t.For(l, langs[0]).Value
	}
	return out
}

// hostOf returns the host of an integration URL, never its credentials,
// path or query (which may hold a secret or a template).
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Hostname()
}

// retentionRank orders retentions: transient < session < any duration,
// durations by length. An unreadable retention ranks highest, so that a
// change to it is never hidden.
func retentionRank(s string) time.Duration {
	r, err := flow.ParseRetention(s)
	switch {
	case err != nil:
		return 1<<63 - 1
	case r.Kind == flow.RetainTransient:
		return 0
	case r.Kind == flow.RetainSession:
		return 1
	}
	return 2 + r.For
}

// field returns the named field, or nil.
func (inv *Inventory) field(name string) *InventoryField {
	for i := range inv.Fields {
		if inv.Fields[i].Name == name {
			return &inv.Fields[i]
		}
	}
	return nil
}

// recipient returns the named integration, or nil.
func (inv *Inventory) recipient(name string) *Recipient {
	for i := range inv.Integrations {
		if inv.Integrations[i].Name == name {
			return &inv.Integrations[i]
		}
	}
	return nil
}
