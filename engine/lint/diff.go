package lint

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// ChangeKind names a privacy-relevant change between two versions of the
// flows. The values are an API of the JSON output.
type ChangeKind string

// The changes Diff reports. A change that lowers exposure (a field removed
// is the exception, as reviewers want to see it) is not reported: a
// shorter retention, a recipient removed, a special category dropped.
const (
	FlowAdded       ChangeKind = "flow-added"
	FlowRemoved     ChangeKind = "flow-removed"
	FieldAdded      ChangeKind = "field-added"
	FieldRemoved    ChangeKind = "field-removed"
	RetentionRaised ChangeKind = "retention-raised"
	RecipientAdded  ChangeKind = "recipient-added"
	BasisChanged    ChangeKind = "basis-changed"
	SpecialAdded    ChangeKind = "special-category-added"
)

// Change is one privacy-relevant difference. Old and New are declarations
// (a retention, a basis, a recipient), never collected values.
type Change struct {
	Kind  ChangeKind `json:"kind"`
	Flow  string     `json:"flow"`
	Field string     `json:"field,omitempty"`
	Old   string     `json:"old,omitempty"`
	New   string     `json:"new,omitempty"`
	File  string     `json:"file,omitempty"` // the new file, or the old one for a removal
}

// Diff compares two sets of flows, matched by flow id, and returns only
// the privacy-relevant changes, sorted by flow, field and kind.
func Diff(old, new []*Inventory) []Change {
	var out []Change
	byID := func(invs []*Inventory) map[string]*Inventory {
		m := make(map[string]*Inventory, len(invs))
		for _, inv := range invs {
			m[inv.Flow] = inv
		}
		return m
	}
	om, nm := byID(old), byID(new)
	for id, o := range om {
		if nm[id] == nil {
			out = append(out, Change{Kind: FlowRemoved, Flow: id, File: o.File})
			for _, f := range o.Fields {
				out = append(out, Change{Kind: FieldRemoved, Flow: id, Field: f.Name, Old: f.Purpose, File: o.File})
			}
		}
	}
	for id, n := range nm {
		o := om[id]
		if o == nil {
			out = append(out, Change{Kind: FlowAdded, Flow: id, File: n.File})
			o = &Inventory{Flow: id}
		}
		out = append(out, diffFlow(o, n)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Flow != b.Flow {
			return a.Flow < b.Flow
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.New < b.New
	})
	return out
}

func diffFlow(o, n *Inventory) []Change {
	var out []Change
	add := func(kind ChangeKind, field, old, new string) {
		out = append(out, Change{Kind: kind, Flow: n.Flow, Field: field, Old: old, New: new, File: n.File})
	}
	for _, of := range o.Fields {
		if n.field(of.Name) == nil {
			out = append(out, Change{Kind: FieldRemoved, Flow: n.Flow, Field: of.Name, Old: of.Purpose, File: n.File})
		}
	}
	for _, nf := range n.Fields {
		of := o.field(nf.Name)
		if of == nil {
			add(FieldAdded, nf.Name, "", fieldWords(nf))
			for _, r := range nf.Recipients {
				add(RecipientAdded, nf.Name, "", recipientWords(n, r))
			}
			continue
		}
		if retentionRank(nf.Retention) > retentionRank(of.Retention) {
			add(RetentionRaised, nf.Name, of.Retention, nf.Retention)
		}
		if nf.Basis != of.Basis {
			add(BasisChanged, nf.Name, of.Basis, nf.Basis)
		}
		if nf.Special != "" && nf.Special != of.Special {
			add(SpecialAdded, nf.Name, of.Special, nf.Special)
		}
		for _, r := range nf.Recipients {
			or := o.recipient(r)
			switch {
			case !slices.Contains(of.Recipients, r):
				add(RecipientAdded, nf.Name, "", recipientWords(n, r))
			case or != nil && n.recipient(r).Host != or.Host:
				// Same integration name, another destination: a new recipient.
				add(RecipientAdded, nf.Name, recipientWords(o, r), recipientWords(n, r))
			}
		}
	}
	return out
}

// fieldWords describes a new field in one line for the diff.
func fieldWords(f InventoryField) string {
	s := fmt.Sprintf("%s for %s (%s), kept %s", orDash(f.Type), orDash(f.Purpose), orDash(f.Basis), orDash(f.Retention))
	if f.Special != "" {
		s += ", special category " + f.Special
	}
	return s
}

func recipientWords(inv *Inventory, name string) string {
	if r := inv.recipient(name); r != nil && r.Host != "" {
		return name + " (" + r.Host + ")"
	}
	return name
}

// changeWords says what a change means for a reviewer.
var changeWords = map[ChangeKind]string{
	FlowAdded:       "new flow",
	FlowRemoved:     "flow removed",
	FieldAdded:      "new field collected",
	FieldRemoved:    "field no longer collected",
	RetentionRaised: "kept longer",
	RecipientAdded:  "sent to a new recipient",
	BasisChanged:    "legal basis changed",
	SpecialAdded:    "special category added",
}

// WriteDiffMarkdown writes changes as a markdown table for a pull-request
// comment, or a line saying there are none.
func WriteDiffMarkdown(w io.Writer, changes []Change) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("## Privacy changes\n\n")
	if len(changes) == 0 {
		bw.WriteString("No privacy-relevant change: no field added or removed, no retention raised, no recipient added, no legal basis changed, no special category added.\n")
		return bw.Flush()
	}
	bw.WriteString("| Flow | Field | Change | Before | After |\n|---|---|---|---|---|\n")
	for _, c := range changes {
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n", mdCell(c.Flow), orDash(c.Field), changeWords[c.Kind], orDash(c.Old), orDash(c.New))
	}
	fmt.Fprintf(bw, "\n%d privacy-relevant %s.\n", len(changes), map[bool]string{true: "change", false: "changes"}[len(changes) == 1])
	return bw.Flush()
}

// diffJSON is the JSON form of a privacy diff.
type diffJSON struct {
	Version int      `json:"version"`
	Changes []Change `json:"changes"`
}

// WriteDiffJSON writes changes as {"version": 1, "changes": [...]}; an
// empty diff has [] changes.
func WriteDiffJSON(w io.Writer, changes []Change) error {
	if changes == nil {
		changes = []Change{}
	}
	return writeJSON(w, diffJSON{Version: 1, Changes: changes})
}

// String renders a change on one line, for logs and test failures.
func (c Change) String() string {
	parts := []string{string(c.Kind), c.Flow}
	if c.Field != "" {
		parts = append(parts, c.Field)
	}
	if c.Old != "" || c.New != "" {
		parts = append(parts, strings.TrimSpace(c.Old+" -> "+c.New))
	}
	return strings.Join(parts, " ")
}
