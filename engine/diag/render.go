package diag

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxSnippetRunes is the widest source line quoted under a diagnostic;
// longer lines are cut around the column so the caret stays visible.
const maxSnippetRunes = 120

// WriteText writes ds in the text format that editors, grep and people
// read:
//
//	flows/booking.yaml:14:7: error: unknown key "promt" in step "ask_name" (did you mean "prompt"?) [PARLEY-101]
//	   14 |     promt: "What's your name?"
//	      |     ^~~~~
//
// The suggestion, when there is one, always ends the first line in
// parentheses; a detail, when there is one, follows the snippet as
// "= note: …". Secrets are masked everywhere (MaskSecrets). src returns the bytes of a file for the snippet; it may
// return nil, and then only the first line is written.
func WriteText(w io.Writer, ds Diagnostics, src func(filename string) []byte) error {
	bw := bufio.NewWriter(w)
	cache := map[string][]string{}
	for _, d := range ds {
		fmt.Fprintf(bw, "%s: %s: %s", d.Subject, d.Severity, oneLine(MaskSecrets(d.Summary)))
		if d.Suggestion != "" {
			fmt.Fprintf(bw, " (%s)", oneLine(MaskSecrets(d.Suggestion)))
		}
		fmt.Fprintf(bw, " [%s]\n", d.Rule)
		lines, ok := cache[d.Subject.Filename]
		if !ok && src != nil {
			if b := src(d.Subject.Filename); b != nil {
				lines = strings.Split(string(b), "\n")
			}
			cache[d.Subject.Filename] = lines
		}
		writeSnippet(bw, lines, d.Subject)
		if d.Detail != "" {
			fmt.Fprintf(bw, "      = note: %s\n", oneLine(MaskSecrets(d.Detail)))
		}
	}
	return bw.Flush()
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// writeSnippet quotes the line of r with a caret under its start and
// tildes under the rest of a one-line range. Tabs in the line are repeated
// in the caret line so both line up in any terminal.
func writeSnippet(w io.Writer, lines []string, r Range) {
	ln := r.Start.Line
	if ln < 1 || ln > len(lines) {
		return
	}
	// The source line is the author's own, but a diagnostic ends up in CI
	// logs and terminals: a secret written in it is masked, not quoted.
	line := []rune(MaskSecrets(strings.TrimRight(lines[ln-1], "\r")))
	col := r.Start.Column
	if col < 1 {
		col = 1
	}
	width := 1
	if r.End.Line == ln && r.End.Column > col {
		width = r.End.Column - col
	}
	if col-1 > len(line) {
		col = len(line) + 1
	}
	if col-1+width > len(line) && len(line) >= col {
		width = len(line) - col + 1
	}
	if width < 1 {
		width = 1
	}
	// Cut long lines to a window around the range.
	prefix, suffix := "", ""
	start := 0
	if len(line) > maxSnippetRunes {
		start = col - 1 - maxSnippetRunes/3
		if start < 0 {
			start = 0
		}
		end := start + maxSnippetRunes
		if end > len(line) {
			end = len(line)
		}
		if start > 0 {
			prefix = "…"
		}
		if end < len(line) {
			suffix = "…"
		}
		line = line[start:end]
		if col-1-start+width > len(line) {
			width = max(1, len(line)-(col-1-start))
		}
	}
	gutter := fmt.Sprintf("%5d", ln)
	fmt.Fprintf(w, "%s | %s%s%s\n", gutter, prefix, string(line), suffix)
	var caret strings.Builder
	caret.WriteString(strings.Repeat(" ", utf8.RuneCountInString(prefix)))
	for i := 0; i < col-1-start && i < len(line); i++ {
		if line[i] == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
	}
	caret.WriteByte('^')
	caret.WriteString(strings.Repeat("~", width-1))
	fmt.Fprintf(w, "%s | %s\n", strings.Repeat(" ", len(gutter)), caret.String())
}

// jsonDiagnostic is the JSON form of a diagnostic. The field names are an
// API: add fields, never rename them.
type jsonDiagnostic struct {
	File       string `json:"file"`
	Line       int    `json:"line"`
	Column     int    `json:"column"`
	EndLine    int    `json:"end_line"`
	EndColumn  int    `json:"end_column"`
	Severity   string `json:"severity"`
	Rule       RuleID `json:"rule"`
	Slug       string `json:"slug"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// WriteJSON writes ds as a JSON array, one object per diagnostic with file,
// line, column, end_line, end_column (exclusive; equal to line and column
// for a point), severity, rule, slug, message and, when set, suggestion
// and detail. An empty list is written as [].
func WriteJSON(w io.Writer, ds Diagnostics) error {
	out := make([]jsonDiagnostic, 0, len(ds))
	for _, d := range ds {
		r, _ := Lookup(d.Rule)
		end := d.Subject.End
		if end.Line == 0 {
			end = d.Subject.Start
		}
		out = append(out, jsonDiagnostic{
			File:       d.Subject.Filename,
			Line:       d.Subject.Start.Line,
			Column:     d.Subject.Start.Column,
			EndLine:    end.Line,
			EndColumn:  end.Column,
			Severity:   d.Severity.String(),
			Rule:       d.Rule,
			Slug:       r.Slug,
			Message:    MaskSecrets(d.Summary),
			Suggestion: MaskSecrets(d.Suggestion),
			Detail:     MaskSecrets(d.Detail),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
