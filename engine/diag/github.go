package diag

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteGitHub writes ds as GitHub Actions workflow commands, one per line,
// which the runner turns into annotations on the pull request:
//
//	::error file=flows/a.yaml,line=14,col=7,endLine=14,endColumn=12,title=PARLEY-101::unknown key "promt" (did you mean "prompt"?)
//
// Warnings use ::warning and infos ::notice. Property values escape %, CR,
// LF, ':' and ','; the message escapes %, CR and LF, as the runner expects.
func WriteGitHub(w io.Writer, ds Diagnostics) error {
	bw := bufio.NewWriter(w)
	for _, d := range ds {
		cmd := "error"
		switch d.Severity {
		case Warning:
			cmd = "warning"
		case Info:
			cmd = "notice"
		}
		fmt.Fprintf(bw, "::%s file=%s,line=%d,col=%d", cmd, githubProperty(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column)
		if end := d.Subject.End; end.Line > 0 {
			fmt.Fprintf(bw, ",endLine=%d,endColumn=%d", end.Line, end.Column)
		}
		msg := MaskSecrets(d.Summary)
		if d.Suggestion != "" {
			msg += " (" + MaskSecrets(d.Suggestion) + ")"
		}
		fmt.Fprintf(bw, ",title=%s::%s\n", githubProperty(string(d.Rule)), githubData(msg))
	}
	return bw.Flush()
}

var (
	githubDataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	githubPropertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func githubData(s string) string     { return githubDataEscaper.Replace(s) }
func githubProperty(s string) string { return githubPropertyEscaper.Replace(s) }
