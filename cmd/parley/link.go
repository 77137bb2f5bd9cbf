package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/compile"
)

func init() {
	register(&command{
		name:    "link",
		summary: "print a wa.me entry link (and QR code) that starts a flow",
		usage:   "parley link FLOW [--flows DIR] [--number NUMBER] [--campaign REF] [--text TEXT] [--qr FILE.png]",
		help: `Prints a https://wa.me link to the business number with a start text
filled in: a customer who opens it (from a website, a receipt, a poster's
QR code) sends that text and starts the flow FLOW (a flow id in --flows).

The number is --number or PARLEY_WHATSAPP_NUMBER: the business's WhatsApp
number with its country code (+39 02 1234 5678 is fine). A number serves
one flow (PARLEY_WHATSAPP_FLOW, when set, must be FLOW), so any text
starts it; the start text is a greeting in the flow's first language, or
--text. It must not be a keyword such as STOP or MY DATA, which would use
a right instead of starting the flow.

--campaign REF adds a campaign reference to the start text, "(ref: REF)":
1 to 24 letters, digits, - or _ (spring-24, receipt_2026). It is recorded
with the consent the customer gives in that conversation (export shows it)
and is not personal data: never put a name, a number or an email in it.
The start text itself is never stored as an answer.

--qr FILE.png also writes the link as a PNG QR code.`,
		run: runLink,
	})
}

// entryGreetings is the default start text per language.
var entryGreetings = map[string]string{
	"en": "Hi", "it": "Ciao", "de": "Hallo", "fr": "Bonjour", "es": "Hola", "pt": "Olá", "nl": "Hallo",
}

// maxEntryText bounds --text: a greeting, not a message.
const maxEntryText = 200

func runLink(c *cli, args []string) int {
	cmd := commands["link"]
	fs := c.flags(cmd)
	flowsDir := fs.String("flows", "flows", "the flow files or directory (as for serve)")
	number := fs.String("number", "", "the business's WhatsApp number with its country code (default $PARLEY_WHATSAPP_NUMBER)")
	campaign := fs.String("campaign", "", "campaign reference carried by the start text (letters, digits, - and _; at most 24)")
	text := fs.String("text", "", "start text (default: a greeting in the flow's first language)")
	qr := fs.String("qr", "", "also write the link as a PNG QR code to this file")
	pos, code, ok := c.parseAnywhere(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(c.stderr, "parley link: name one flow id, for example: parley link booking --campaign spring-24")
		return exitUsage
	}
	flowID := pos[0]
	num := *number
	if num == "" {
		num = c.getenv("PARLEY_WHATSAPP_NUMBER")
	}
	digits, err := waNumber(num)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley link: %v\n", err)
		return exitUsage
	}
	if *campaign != "" && !compile.ValidCampaign(*campaign) {
		fmt.Fprintf(c.stderr, "parley link: --campaign must be 1 to %d letters, digits, - or _ (for example spring-24): a campaign reference names a campaign, never a customer\n", compile.MaxCampaignLen)
		return exitUsage
	}
	if served := c.getenv("PARLEY_WHATSAPP_FLOW"); served != "" && served != flowID {
		fmt.Fprintf(c.stderr, "parley link: the WhatsApp number serves flow %q (PARLEY_WHATSAPP_FLOW), so a link to it would start %q, not %q\n", served, served, flowID)
		return exitUsage
	}
	flows, report, err := server.LoadFlows(*flowsDir)
	fmt.Fprint(c.stderr, report)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley link: cannot load the flows in %s: %v\n", *flowsDir, err)
		if errors.Is(err, server.ErrFlowErrors) {
			return exitFindings
		}
		return exitFailure
	}
	p, ok := flows.Get(flowID)
	if !ok {
		var ids []string
		for _, q := range flows.All() {
			ids = append(ids, q.ID())
		}
		fmt.Fprintf(c.stderr, "parley link: no flow with id %q in %s (flows: %s)\n", flowID, *flowsDir, strings.Join(ids, ", "))
		return exitUsage
	}
	start := *text
	if start == "" {
		start = entryGreetings[p.Languages()[0]]
		if start == "" {
			start = entryGreetings["en"]
		}
	}
	if msg := entryTextProblem(p, start); msg != "" {
		fmt.Fprintf(c.stderr, "parley link: --text %s\n", msg)
		return exitUsage
	}
	link := "https://wa.me/" + digits + "?text=" + strings.ReplaceAll(url.QueryEscape(compile.EntryText(start, *campaign)), "+", "%20")
	if *qr != "" {
		if err := qrcode.WriteFile(link, qrcode.Medium, 512, *qr); err != nil {
			fmt.Fprintf(c.stderr, "parley link: writing the QR code: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(c.stderr, "QR code written to %s\n", *qr)
	}
	fmt.Fprintln(c.stdout, link)
	return exitOK
}

// waNumber returns the digits of a WhatsApp number written with its
// country code, allowing +, spaces, dashes, dots and brackets.
func waNumber(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", errors.New("give the business's WhatsApp number with --number (or PARLEY_WHATSAPP_NUMBER), with its country code, for example --number +390212345678")
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("+ -.()", r):
		default:
			return "", errors.New("the business number may hold only digits, +, spaces, dashes, dots and brackets, for example +39 02 1234 5678")
		}
	}
	d := strings.TrimLeft(b.String(), "0")
	if len(d) < 8 || len(d) > 15 {
		return "", errors.New("the business number must have 8 to 15 digits with its country code and no leading 00, for example +39 02 1234 5678")
	}
	return d, nil
}

// entryTextProblem says what is wrong with a start text, or "".
func entryTextProblem(p *compile.Program, text string) string {
	switch {
	case strings.TrimSpace(text) == "" || !utf8.ValidString(text):
		return "must be a greeting such as Hi"
	case utf8.RuneCountInString(text) > maxEntryText:
		return fmt.Sprintf("is longer than %d characters: a start text is a greeting, not a message", maxEntryText)
	case compile.EntryCampaign(text) != "":
		return "already ends with a campaign reference: give it with --campaign"
	}
	norm := compile.Normalize(text)
	for i := range p.Languages() {
		if p.Keyword(norm, i) != compile.RightNone {
			return fmt.Sprintf("%q is a keyword of the flow (a data right such as STOP or MY DATA): the customer would use that right instead of starting the flow; choose a greeting", text)
		}
	}
	return ""
}
