// Package flowgen generates large, valid flows for benchmarks and tests of
// the loader, the checks and the compiler.
package flowgen

import (
	"fmt"
	"strings"
)

// Large builds a valid flow of n steps mixing every step kind, in two
// languages, so the benchmark exercises texts, options and the graph.
func Large(n int) []byte {
	var b strings.Builder
	b.WriteString(`parley: 1
id: large
version: 1
languages: [en, it]
controller: { name: Example Ltd, contact: privacy@example.com, privacy_url: https://example.com/privacy }
purposes:
  booking: { basis: consent, description: { en: to book, it: per prenotare }, on_decline: s0 }
fields:
  name: { type: text, purpose: booking, retention: 30d, max_length: 80, label: { en: your name, it: il tuo nome } }
  day: { type: choice, purpose: booking, retention: 30d, label: { en: the day, it: il giorno } }
integrations:
  crm: { url: "https://crm.example.com/leads", purpose: booking, sends: [name, day], secret_env: CRM_TOKEN, timeout: 5s }
start: s0
steps:
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n", i)
		switch {
		case i == n-1:
			b.WriteString("    say: { en: Bye, it: Ciao }\n    end: true\n")
		case i%4 == 0:
			b.WriteString("    ask: { en: \"Your name?\", it: \"Come ti chiami?\" }\n    save: name\n    retry: { en: Again, it: Ancora }\n    attempts: 3\n")
			fmt.Fprintf(&b, "    on_fail: s%d\n", n-1)
		case i%4 == 1:
			b.WriteString("    ask: { en: Which day, it: Quale giorno }\n    save: day\n    options:\n")
			b.WriteString("      - { id: mon, title: { en: Monday, it: Lunedì } }\n      - { id: tue, title: { en: Tuesday, it: Martedì } }\n")
		case i%4 == 2:
			fmt.Fprintf(&b, "    if: day == \"mon\"\n    then: s%d\n    else: s%d\n", i+1, i+1)
		default:
			b.WriteString("    say: \"Thanks {{ name }}\"\n")
		}
	}
	return []byte(b.String())
}
