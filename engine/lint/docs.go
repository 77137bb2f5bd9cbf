package lint

import (
	"fmt"
	"strings"

	"github.com/parleyhq/parley/engine/diag"
)

// RulesMarkdown renders docs/rules.md from the rule table: every rule's id,
// slug, default severity, summary, help and example, grouped by hundreds.
func RulesMarkdown() string {
	var b strings.Builder
	b.WriteString("# Lint rules\n\n")
	b.WriteString("<!-- Generated from engine/diag/rules.go by `go test ./engine/lint -run Docs -update`. Do not edit. -->\n\n")
	b.WriteString("`parley lint` reports each problem with a stable rule id. The id never changes meaning; ")
	b.WriteString("CI configurations and SARIF consumers key on it. Rules marked *catalogue* are the lint-only ")
	b.WriteString("privacy, WhatsApp and flow rules of `engine/lint`: a policy file `.parley.yaml` may change their ")
	b.WriteString("severity (`rules: { PARLEY-605: error }` or `off`), and a comment `# parley:ignore RULE-ID -- reason` ")
	b.WriteString("on the line of a finding, or on its own line above it, suppresses one finding. Errors that stop a ")
	b.WriteString("flow from running cannot be suppressed. The policy file is described by `schemas/policy.schema.json`; ")
	b.WriteString("without one, the defaults below apply.\n\n")
	d := DefaultPolicy()
	b.WriteString("## Default policy\n\n| Limit | Default |\n|---|---|\n")
	for _, k := range sortedKeys(d.MaxRetention) {
		fmt.Fprintf(&b, "| retention.max.%s | %s |\n", k, retentionString(d.MaxRetention[k]))
	}
	for _, k := range sortedKeys(d.MaxSpecial) {
		fmt.Fprintf(&b, "| retention.special.%s | %s |\n", k, retentionString(d.MaxSpecial[k]))
	}
	b.WriteString("| links.allow | any domain |\n| integrations.allow | any domain |\n\n")
	cat := map[diag.RuleID]bool{}
	for _, id := range Catalogue() {
		cat[id] = true
	}
	groups := []struct{ prefix, title string }{
		{"PARLEY-0", "0xx: YAML, files and the policy file"},
		{"PARLEY-1", "1xx: structure (schema)"},
		{"PARLEY-2", "2xx: meaning and flow graph"},
		{"PARLEY-3", "3xx: privacy checked by the engine"},
		{"PARLEY-4", "4xx: privacy and purpose (catalogue)"},
		{"PARLEY-5", "5xx: suppressions"},
		{"PARLEY-6", "6xx: WhatsApp limits"},
	}
	b.WriteString("## Index\n\n| Rule | Name | Severity | Summary |\n|---|---|---|---|\n")
	for _, r := range diag.Rules() {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s |\n", r.ID, strings.ToLower(string(r.ID)), r.Slug, r.Severity, r.Summary)
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "\n## %s\n", g.title)
		for _, r := range diag.Rules() {
			if !strings.HasPrefix(string(r.ID), g.prefix) {
				continue
			}
			fmt.Fprintf(&b, "\n### %s\n\n`%s` · default severity **%s**", r.ID, r.Slug, r.Severity)
			if cat[r.ID] {
				b.WriteString(" · catalogue")
			}
			if Suppressible(r.ID) {
				b.WriteString(" · can be suppressed")
			}
			fmt.Fprintf(&b, "\n\n%s\n\n%s\n", r.Summary, r.Help)
			if r.Example != "" {
				fmt.Fprintf(&b, "\n```yaml\n%s\n```\n", r.Example)
			}
		}
	}
	return b.String()
}
