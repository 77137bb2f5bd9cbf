package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a source file. Line and Column are 1-based; Column
// counts runes, the way a flow author's editor does. Byte is the 0-based byte
// offset, or -1 when unknown.
type Pos struct {
	Line, Column, Byte int
}

// Range is a span of a source file. End is exclusive. A zero End means the
// range is a single point at Start.
type Range struct {
	Filename   string
	Start, End Pos
}

// String renders the range as file:line:col, the form every editor and CI
// annotator understands.
func (r Range) String() string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// Severity says how bad a diagnostic is. The zero value is invalid so that a
// forgotten severity is caught by tests rather than shown as an error.
type Severity int

const (
	// Error stops a flow from being served.
	Error Severity = iota + 1
	// Warning is shown but does not fail lint unless --max-warnings says so.
	Warning
	// Info is advice.
	Info
)

// String returns the lower-case name used in text output.
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	case Info:
		return "info"
	}
	return "invalid"
}

// Diagnostic is one problem found in a flow. Summary is a plain sentence for a
// flow author; Suggestion, when set, is the fix ("did you mean \"prompt\"?").
type Diagnostic struct {
	Severity   Severity
	Rule       RuleID
	Summary    string
	Detail     string
	Suggestion string
	Subject    Range
}

// Error makes a Diagnostic usable as an error: file:line:col: severity: summary [rule].
func (d *Diagnostic) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", d.Subject, d.Severity, MaskSecrets(d.Summary))
	if d.Suggestion != "" {
		fmt.Fprintf(&b, " (%s)", MaskSecrets(d.Suggestion))
	}
	fmt.Fprintf(&b, " [%s]", d.Rule)
	return b.String()
}

// Diagnostics is a list of problems, kept in the order Sort gives.
type Diagnostics []*Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Count returns the number of diagnostics of severity s.
func (ds Diagnostics) Count(s Severity) int {
	n := 0
	for _, d := range ds {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Add appends a diagnostic for rule at r. The severity comes from the rule
// table; summary is formatted with args.
func (ds *Diagnostics) Add(rule RuleID, r Range, format string, args ...any) *Diagnostic {
	d := &Diagnostic{Severity: rule.Severity(), Rule: rule, Subject: r, Summary: fmt.Sprintf(format, args...)}
	*ds = append(*ds, d)
	return d
}

// Extend appends all of more.
func (ds *Diagnostics) Extend(more Diagnostics) { *ds = append(*ds, more...) }

// Sort orders diagnostics by file, line, column, then rule and summary, and
// removes exact duplicates, so the same flow always gives the same output.
func (ds *Diagnostics) Sort() {
	s := *ds
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.Subject.Filename != b.Subject.Filename {
			return a.Subject.Filename < b.Subject.Filename
		}
		if a.Subject.Start.Line != b.Subject.Start.Line {
			return a.Subject.Start.Line < b.Subject.Start.Line
		}
		if a.Subject.Start.Column != b.Subject.Start.Column {
			return a.Subject.Start.Column < b.Subject.Start.Column
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Summary < b.Summary
	})
	out := s[:0]
	for i, d := range s {
		if i > 0 {
			p := out[len(out)-1]
			if p.Subject == d.Subject && p.Rule == d.Rule && p.Summary == d.Summary {
				continue
			}
		}
		out = append(out, d)
	}
	*ds = out
}

// Err returns nil when there are no errors, or the diagnostics as an error.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return errorList(ds)
}

type errorList Diagnostics

func (e errorList) Error() string {
	var b strings.Builder
	for i, d := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.Error())
	}
	return b.String()
}
