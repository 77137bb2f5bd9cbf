package lint

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/diag"
)

// suppression is one `# parley:ignore RULE-ID reason` comment.
type suppression struct {
	at     diag.Range // the comment
	rules  []string
	reason string
	target int // the line it applies to
	used   bool
}

// ignoreComment matches a YAML comment (a # at the start of a line or after
// a space) that starts with parley:ignore.
var ignoreComment = regexp.MustCompile(`(?:^|\s)#\s*parley:ignore\b(.*)$`)

var ruleToken = regexp.MustCompile(`^(?:PARLEY-[0-9]{3}|[a-z][a-z0-9]*(?:-[a-z0-9]+)+)$`)

// parseSuppressions finds every parley:ignore comment in src. A comment on a
// line of its own applies to the next line; at the end of a line, to that
// line. Rules are separated by commas or spaces; the rest, after an
// optional "--", is the reason.
func parseSuppressions(name string, src []byte) []*suppression {
	if !bytes.Contains(src, []byte("parley:ignore")) {
		return nil
	}
	var out []*suppression
	for i, line := range strings.Split(string(src), "\n") {
		m := ignoreComment.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		hash := strings.Index(line[m[0]:], "#") + m[0]
		s := &suppression{
			at:     diag.Range{Filename: name, Start: diag.Pos{Line: i + 1, Column: utf8.RuneCountInString(line[:hash]) + 1, Byte: -1}},
			target: i + 1,
		}
		if strings.TrimSpace(line[:hash]) == "" {
			s.target = i + 2
		}
		rest := strings.TrimSpace(line[m[2]:m[3]])
		for rest != "" {
			tok, after, _ := strings.Cut(rest, " ")
			tok = strings.TrimSuffix(tok, ",")
			if !ruleToken.MatchString(tok) {
				break
			}
			s.rules = append(s.rules, tok)
			rest = strings.TrimSpace(after)
		}
		s.reason = strings.TrimSpace(strings.TrimPrefix(rest, "--"))
		out = append(out, s)
	}
	return out
}

// applySuppressions drops the findings a suppression in src covers and adds
// a finding for each suppression without a reason, or that names an unknown
// rule, a rule that cannot be suppressed, or covers nothing.
func applySuppressions(name string, src []byte, ds diag.Diagnostics) diag.Diagnostics {
	sups := parseSuppressions(name, src)
	if len(sups) == 0 {
		return ds
	}
	var extra diag.Diagnostics
	ids := make([][]diag.RuleID, len(sups))
	for i, s := range sups {
		if len(s.rules) == 0 {
			extra.Add(diag.UnusedSuppression, s.at, "parley:ignore names no rule: write the rule id first, as in # parley:ignore PARLEY-605 -- reason")
			s.used = true
			continue
		}
		if s.reason == "" {
			extra.Add(diag.SuppressionWithoutReason, s.at, "parley:ignore %s gives no reason: say why after the rule, as in # parley:ignore %s -- why this is fine here", strings.Join(s.rules, " "), s.rules[0])
		}
		for _, name := range s.rules {
			r, ok := ruleByName(name)
			switch {
			case !ok:
				d := extra.Add(diag.UnusedSuppression, s.at, "parley:ignore names %q, which is not a rule", name)
				d.Suggestion = diag.DidYouMean(name, ruleNames())
			case !Suppressible(r.ID):
				extra.Add(diag.UnusedSuppression, s.at, "parley:ignore %s: %s (%s) stops the flow from running and cannot be suppressed; fix it instead", name, r.ID, r.Slug)
			default:
				ids[i] = append(ids[i], r.ID)
			}
		}
		if len(ids[i]) < len(s.rules) {
			s.used = true // already reported
		}
	}
	out := ds[:0]
	for _, d := range ds {
		if d.Subject.Filename == name && suppressed(d, sups, ids) {
			continue
		}
		out = append(out, d)
	}
	for i, s := range sups {
		if !s.used && len(ids[i]) > 0 {
			extra.Add(diag.UnusedSuppression, s.at, "parley:ignore %s suppresses nothing on line %d: remove it", strings.Join(s.rules, " "), s.target)
		}
	}
	return append(out, extra...)
}

func suppressed(d *diag.Diagnostic, sups []*suppression, ids [][]diag.RuleID) bool {
	hit := false
	for i, s := range sups {
		if s.target != d.Subject.Start.Line {
			continue
		}
		for _, id := range ids[i] {
			if id == d.Rule {
				s.used, hit = true, true
			}
		}
	}
	return hit
}
