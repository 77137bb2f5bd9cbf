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
	return writeText(w, ds, src, false)
}

// WriteColorText is WriteText with ANSI colours on the severity and the
// message (bold) and the rule (dim), for a terminal. The caller decides whether the output is
// a terminal and whether NO_COLOR is set; diag knows nothing of terminals.
func WriteColorText(w io.Writer, ds Diagnostics, src func(filename string) []byte) error {
	return writeText(w, ds, src, true)
}

// ANSI escapes used by WriteColorText.
const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
)

func severityColor(s Severity) string {
	switch s {
	case Error:
		return "\x1b[1;31m"
	case Warning:
		return "\x1b[1;33m"
	}
	return "\x1b[1;36m"
}

func writeText(w io.Writer, ds Diagnostics, src func(filename string) []byte, color bool) error {
	bw := bufio.NewWriter(w)
	cache := map[string]*sourceLines{}
	for _, d := range ds {
		sev, rule := d.Severity.String(), string(d.Rule)
		if color {
			sev = severityColor(d.Severity) + sev + ansiReset + ansiBold
			rule = ansiDim + rule + ansiReset
			bw.WriteString(ansiBold)
		}
		fmt.Fprintf(bw, "%s: %s: %s", d.Subject, sev, oneLine(MaskSecrets(d.Summary)))
		if d.Suggestion != "" {
			fmt.Fprintf(bw, " (%s)", oneLine(MaskSecrets(d.Suggestion)))
		}
		if color {
			bw.WriteString(ansiReset)
		}
		fmt.Fprintf(bw, " [%s]\n", rule)
		sl, ok := cache[d.Subject.Filename]
		if !ok {
			sl = &sourceLines{}
			if src != nil {
				if b := src(d.Subject.Filename); b != nil {
					sl.lines = strings.Split(string(b), "\n")
					sl.masked = make([]bool, len(sl.lines))
				}
			}
			cache[d.Subject.Filename] = sl
		}
		writeSnippet(bw, sl.maskedLines(d.Subject.Start.Line), d.Subject)
		if d.Detail != "" {
			fmt.Fprintf(bw, "      = note: %s\n", oneLine(MaskSecrets(d.Detail)))
		}
	}
	return bw.Flush()
}

// sourceLines are a file's lines, each masked (MaskSecrets) the first time
// a diagnostic quotes it: the source line is the author's own, but a
// diagnostic ends up in CI logs and terminals, so a secret written in it is
// masked, not quoted. Masking once per line, not once per diagnostic,
// keeps thousands of diagnostics on one long line linear.
type sourceLines struct {
	lines  []string
	masked []bool
}

// maskedLines masks line n (1-based) if needed and returns the lines.
func (sl *sourceLines) maskedLines(n int) []string {
	if n >= 1 && n <= len(sl.lines) && !sl.masked[n-1] {
		sl.lines[n-1] = MaskSecrets(sl.lines[n-1])
		sl.masked[n-1] = true
	}
	return sl.lines
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
	// The caller has masked the line (sourceLines).
	line := []rune(strings.TrimRight(lines[ln-1], "\r"))
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

// JSONVersion is the version of the JSON report. It changes only when a
// field is removed or changes meaning, which we avoid.
const JSONVersion = 1

// jsonReport is the JSON form of a lint run.
type jsonReport struct {
	Version     int              `json:"version"`
	Files       []jsonFile       `json:"files"`
	Diagnostics []jsonDiagnostic `json:"diagnostics"`
}

// jsonFile is one checked file with its counts.
type jsonFile struct {
	Path     string `json:"path"`
	Errors   int    `json:"errors"`
	Warnings int    `json:"warnings"`
	Infos    int    `json:"infos"`
}

// WriteJSON writes a lint run as one JSON object:
//
//	{"version": 1, "files": [{"path", "errors", "warnings", "infos"}], "diagnostics": [...]}
//
// files lists every checked file, also the clean ones, in the order given.
// Each diagnostic has file, line, column, end_line, end_column (exclusive;
// equal to line and column for a point), severity, rule, slug, message and,
// when set, suggestion and detail. Empty lists are written as [].
func WriteJSON(w io.Writer, files []string, ds Diagnostics) error {
	rep := jsonReport{Version: JSONVersion, Files: make([]jsonFile, 0, len(files)), Diagnostics: make([]jsonDiagnostic, 0, len(ds))}
	idx := map[string]int{}
	for _, f := range files {
		idx[f] = len(rep.Files)
		rep.Files = append(rep.Files, jsonFile{Path: f})
	}
	for _, d := range ds {
		if i, ok := idx[d.Subject.Filename]; ok {
			switch d.Severity {
			case Error:
				rep.Files[i].Errors++
			case Warning:
				rep.Files[i].Warnings++
			case Info:
				rep.Files[i].Infos++
			}
		}
		r, _ := Lookup(d.Rule)
		end := endOf(d.Subject)
		rep.Diagnostics = append(rep.Diagnostics, jsonDiagnostic{
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
	return writeIndentedJSON(w, rep)
}

// endOf returns the exclusive end of r, which is its start for a point.
func endOf(r Range) Pos {
	if r.End.Line == 0 {
		return r.Start
	}
	return r.End
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
