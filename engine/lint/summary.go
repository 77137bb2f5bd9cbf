package lint

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/parleyhq/parley/engine/flow"
)

// WriteSummary writes the privacy summary of flows as markdown, ready to
// post as a pull-request comment: per flow, its controller and a table of
// every field with its type, purpose, legal basis, retention, special
// category and the integrations that receive it. It shows declarations
// only, never a collected value.
func WriteSummary(w io.Writer, flows []*flow.Flow) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("## Privacy summary\n")
	if len(flows) == 0 {
		bw.WriteString("\nNo flow could be read.\n")
	}
	for _, inv := range Inventories(flows) {
		fmt.Fprintf(bw, "\n### %s (`%s`)\n\n", mdCell(inv.Flow), inv.File)
		if c := inv.Controller; c.Name != "" {
			fmt.Fprintf(bw, "Controller: %s", mdCell(c.Name))
			if c.Contact != "" {
				fmt.Fprintf(bw, " (%s)", mdCell(c.Contact))
			}
			bw.WriteString(". ")
		}
		fmt.Fprintf(bw, "Languages: %s.\n\n", strings.Join(inv.Languages, ", "))
		if len(inv.Fields) == 0 {
			bw.WriteString("Collects no field.\n")
			continue
		}
		bw.WriteString("| Field | Type | Purpose | Basis | Retention | Special category | Recipients |\n")
		bw.WriteString("|---|---|---|---|---|---|---|\n")
		for _, f := range inv.Fields {
			var rs []string
			for _, name := range f.Recipients {
				r := inv.recipient(name)
				if r != nil && r.Host != "" {
					name += " (" + r.Host + ")"
				}
				rs = append(rs, name)
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s |\n", mdCell(f.Name), orDash(f.Type), orDash(f.Purpose),
				orDash(f.Basis), orDash(f.Retention), orDash(f.Special), orDash(strings.Join(rs, ", ")))
		}
	}
	if len(flows) > 0 {
		bw.WriteString("\nEvery answer also passes through the channel: Meta (WhatsApp Business Platform) processes messages for WhatsApp conversations.\n")
	}
	return bw.Flush()
}

// mdCell makes s safe inside a markdown table cell and on one line.
func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\r\n", " ", "\n", " ", "\r", " ", "`", "'").Replace(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return mdCell(s)
}
