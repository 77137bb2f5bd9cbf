package whatsapp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/runtime"
)

// Cloud API limits, counted in Unicode code points (Meta does not say how it
// counts; code points are what the reference recommends).
const (
	MaxTextRunes          = 4096 // text message body
	MaxInteractiveBody    = 1024 // reply-button body; list body per the safe reading
	MaxButtons            = 3
	MaxButtonTitleRunes   = 20
	MaxButtonIDRunes      = 256
	MaxListRows           = 10
	MaxRowTitleRunes      = 24
	MaxRowDescRunes       = 72
	MaxRowIDRunes         = 200
	MaxListButtonRunes    = 20
	maxTemplateParamRunes = 1024
)

// SendRequest is one Cloud API send body, POSTed to /{phone-number-id}/messages.
// It marshals to exactly the JSON of the reference examples. It carries the
// text sent to a user, so it logs (slog) and prints (%v) only its type.
type SendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type,omitempty"`
	// To is the user's phone number / wa_id. Recipient is a BSUID, used when
	// no phone number is known; Meta prefers To when both are set.
	To          string        `json:"to,omitempty"`
	Recipient   string        `json:"recipient,omitempty"`
	Context     *ReplyContext `json:"context,omitempty"`
	Type        string        `json:"type"`
	Text        *Text         `json:"text,omitempty"`
	Interactive *Interactive  `json:"interactive,omitempty"`
	Template    *Template     `json:"template,omitempty"`
	// CallbackData is echoed in status webhooks; flow/node ids only, never
	// personal data.
	CallbackData string `json:"biz_opaque_callback_data,omitempty"`
}

// String hides the content.
func (r SendRequest) String() string { return "whatsapp.SendRequest{type=" + r.Type + "}" }

// GoString hides the content from %#v.
func (r SendRequest) GoString() string { return r.String() }

// LogValue logs the type only.
func (r SendRequest) LogValue() slog.Value { return slog.GroupValue(slog.String("type", r.Type)) }

// ReplyContext quotes an earlier message.
type ReplyContext struct {
	MessageID string `json:"message_id"`
}

// Text is the body of a text message.
type Text struct {
	PreviewURL bool   `json:"preview_url,omitempty"`
	Body       string `json:"body"`
}

// Interactive is a reply-buttons ("button") or list ("list") message.
type Interactive struct {
	Type   string           `json:"type"`
	Header *Header          `json:"header,omitempty"`
	Body   InteractiveText  `json:"body"`
	Footer *InteractiveText `json:"footer,omitempty"`
	Action Action           `json:"action"`
}

// Header is a text header (60 characters).
type Header struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// InteractiveText is a body or footer.
type InteractiveText struct {
	Text string `json:"text"`
}

// Action holds reply buttons, or a list's button label and sections.
type Action struct {
	Buttons  []Button  `json:"buttons,omitempty"`
	Button   string    `json:"button,omitempty"`
	Sections []Section `json:"sections,omitempty"`
}

// Button is one reply button.
type Button struct {
	Type  string      `json:"type"`
	Reply ButtonReply `json:"reply"`
}

// ButtonReply is a reply button's id and title.
type ButtonReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Section is a titled group of list rows.
type Section struct {
	Title string `json:"title,omitempty"`
	Rows  []Row  `json:"rows"`
}

// Row is one list row.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Template is an approved template with its parameters.
type Template struct {
	Name       string      `json:"name"`
	Language   Language    `json:"language"`
	Components []Component `json:"components,omitempty"`
}

// Language is a template language code such as "en_US".
type Language struct {
	Code string `json:"code"`
}

// Component is a template header, body or button with its parameters.
type Component struct {
	Type       string      `json:"type"`
	SubType    string      `json:"sub_type,omitempty"`
	Index      string      `json:"index,omitempty"`
	Parameters []Parameter `json:"parameters,omitempty"`
}

// Parameter is one template parameter.
type Parameter struct {
	Type    string `json:"type"`
	Text    string `json:"text,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// encodeJSON marshals without HTML escaping, so bodies read like Meta's
// examples; both forms are valid JSON.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

var (
	listButtonLabels = map[string]string{
		"en": "Choose", "it": "Scegli", "es": "Elegir", "fr": "Choisir", "de": "Auswählen", "pt": "Escolher",
	}
	choosePrompts = map[string]string{
		"en": "Please choose:", "it": "Scegli un'opzione:", "es": "Elige una opción:",
		"fr": "Choisissez une option :", "de": "Bitte wähle aus:", "pt": "Escolha uma opção:",
	}
	numberedHints = map[string]string{
		"en": "Reply with the number of your choice.", "it": "Rispondi con il numero della tua scelta.",
		"es": "Responde con el número de tu elección.", "fr": "Répondez avec le numéro de votre choix.",
		"de": "Antworte mit der Nummer deiner Wahl.", "pt": "Responda com o número da sua escolha.",
	}
)

// Render turns one runtime message for the user to (a phone number / wa_id,
// or a BSUID such as "US.1349…") into the Cloud API sends that show it, in
// order. lang picks the language of the few labels Render adds itself.
//
//   - No options: text, split into several messages above 4,096 characters
//     on paragraph, line or word boundaries (never inside a character).
//   - 1–3 options: reply buttons (titles cut to 20 characters with "…").
//   - 4–10 options, or buttons that cannot be used: a list (row titles cut
//     to 24 characters; a cut title is shown whole in the row description).
//   - More than 10 options, or ids WhatsApp would refuse: numbered text
//     ("1. Mon 9:00"); MatchNumbered maps the user's "1" back to the option.
//
// An interactive body is at most 1,024 characters: a longer text is sent
// first as text, followed by the interactive message with a short prompt.
// An empty message renders to nothing.
func Render(to, lang string, msg runtime.Message) []SendRequest {
	var out []SendRequest
	text := msg.Text
	switch form := chooseForm(msg.Options); form {
	case formNone:
		for _, chunk := range splitText(text, MaxTextRunes) {
			out = append(out, textRequest(to, chunk))
		}
	case formNumbered:
		var b strings.Builder
		b.WriteString(text)
		if strings.TrimSpace(text) != "" {
			b.WriteString("\n\n")
		}
		for i, o := range msg.Options {
			fmt.Fprintf(&b, "%d. %s\n", i+1, o.Title)
		}
		b.WriteString("\n")
		b.WriteString(localized(numberedHints, lang))
		for _, chunk := range splitText(b.String(), MaxTextRunes) {
			out = append(out, textRequest(to, chunk))
		}
	default:
		body := text
		if strings.TrimSpace(body) == "" || utf8.RuneCountInString(body) > MaxInteractiveBody {
			for _, chunk := range splitText(body, MaxTextRunes) {
				out = append(out, textRequest(to, chunk))
			}
			body = localized(choosePrompts, lang)
		}
		req := newRequest(to, "interactive")
		if form == formButtons {
			req.Interactive = buttonsMessage(body, msg.Options)
		} else {
			req.Interactive = listMessage(body, truncate(localized(listButtonLabels, lang), MaxListButtonRunes), msg.Options)
		}
		out = append(out, req)
	}
	return out
}

type form int

const (
	formNone form = iota
	formButtons
	formList
	formNumbered
)

// chooseForm picks the richest form WhatsApp will accept for opts.
func chooseForm(opts []runtime.Option) form {
	switch {
	case len(opts) == 0:
		return formNone
	case len(opts) <= MaxButtons && buttonsFit(opts):
		return formButtons
	case len(opts) <= MaxListRows && listFits(opts):
		return formList
	default:
		return formNumbered
	}
}

// validID reports whether WhatsApp accepts id: non-empty, within max code
// points, no surrounding spaces. Ids are never shortened: the tap must come
// back with the id the flow knows.
func validID(id string, max int) bool {
	return id != "" && utf8.RuneCountInString(id) <= max && strings.TrimSpace(id) == id
}

func idsFit(opts []runtime.Option, max int) bool {
	seen := make(map[string]bool, len(opts))
	for _, o := range opts {
		if !validID(o.ID, max) || seen[o.ID] || strings.TrimSpace(o.Title) == "" {
			return false
		}
		seen[o.ID] = true
	}
	return true
}

// buttonsFit also requires the shortened titles to stay unique, as WhatsApp
// requires and as the user needs to tell them apart.
func buttonsFit(opts []runtime.Option) bool {
	if !idsFit(opts, MaxButtonIDRunes) {
		return false
	}
	seen := make(map[string]bool, len(opts))
	for _, o := range opts {
		t := truncate(o.Title, MaxButtonTitleRunes)
		if seen[t] {
			return false
		}
		seen[t] = true
	}
	return true
}

func listFits(opts []runtime.Option) bool { return idsFit(opts, MaxRowIDRunes) }

func newRequest(to, typ string) SendRequest {
	r := SendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", Type: typ}
	if isBSUID(to) {
		r.Recipient = to
	} else {
		r.To = to
	}
	return r
}

// isBSUID tells a business-scoped user id ("US.1349…": a country code, a
// dot, alphanumerics) from a phone number / wa_id, which has only digits and
// an optional leading "+".
func isBSUID(to string) bool {
	return strings.IndexFunc(to, unicode.IsLetter) >= 0
}

func textRequest(to, body string) SendRequest {
	r := newRequest(to, "text")
	r.Text = &Text{Body: body, PreviewURL: strings.Contains(body, "https://") || strings.Contains(body, "http://")}
	return r
}

func buttonsMessage(body string, opts []runtime.Option) *Interactive {
	in := &Interactive{Type: "button", Body: InteractiveText{Text: body}}
	for _, o := range opts {
		in.Action.Buttons = append(in.Action.Buttons, Button{
			Type:  "reply",
			Reply: ButtonReply{ID: o.ID, Title: truncate(o.Title, MaxButtonTitleRunes)},
		})
	}
	return in
}

func listMessage(body, label string, opts []runtime.Option) *Interactive {
	in := &Interactive{Type: "list", Body: InteractiveText{Text: body}, Action: Action{Button: label}}
	sec := Section{}
	for _, o := range opts {
		row := Row{ID: o.ID, Title: truncate(o.Title, MaxRowTitleRunes)}
		if row.Title != o.Title {
			row.Description = truncate(o.Title, MaxRowDescRunes)
		}
		sec.Rows = append(sec.Rows, row)
	}
	in.Action.Sections = []Section{sec}
	return in
}

// MatchNumbered maps a reply to a numbered-text menu ("3", " 3.", "3)",
// "#3") to the id of that option. Render falls back to numbered text for
// more than ten options, so the server should try this before handing a
// typed answer to a question with options.
func MatchNumbered(text string, opts []runtime.Option) (id string, ok bool) {
	s := strings.TrimSpace(text)
	s = strings.TrimPrefix(s, "#")
	s = strings.TrimRight(s, ".)")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > len(opts) || s[0] == '+' || s[0] == '-' {
		return "", false
	}
	return opts[n-1].ID, true
}

// RenderTemplate builds a template send, the only kind allowed outside the
// 24-hour window. params fill the body's {{1}}, {{2}}… in order; name and
// lang ("en_US") must match an approved template exactly. Add header or
// button components to the returned request's Template when the template
// has them.
func RenderTemplate(to, name, lang string, params []string) SendRequest {
	r := newRequest(to, "template")
	r.Template = &Template{Name: name, Language: Language{Code: lang}}
	if len(params) > 0 {
		c := Component{Type: "body"}
		for _, p := range params {
			c.Parameters = append(c.Parameters, Parameter{Type: "text", Text: truncate(p, maxTemplateParamRunes)})
		}
		r.Template.Components = []Component{c}
	}
	return r
}

// truncate shortens s to at most max code points, ending with "…" when it
// cut something. It never cuts inside a UTF-8 sequence and avoids cutting
// a grapheme apart (combining marks, emoji modifiers, ZWJ sequences, flags).
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 1 {
		return "…"
	}
	cut := safeCut(s, runeOffset(s, max-1))
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace) + "…"
}

// runeOffset is the byte offset just after the first n code points of s.
func runeOffset(s string, n int) int {
	i := 0
	for k := 0; k < n && i < len(s); k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// safeCut moves a byte offset on a rune boundary back so that it does not
// split a grapheme cluster. If the whole prefix is one cluster it returns
// the original offset: a cut inside a cluster beats no progress.
func safeCut(s string, cut int) int {
	orig := cut
	for cut > 0 && cut < len(s) {
		next, _ := utf8.DecodeRuneInString(s[cut:])
		prev, size := utf8.DecodeLastRuneInString(s[:cut])
		if !extends(next) && prev != '\u200d' && !splitsFlag(s, cut) {
			return cut
		}
		cut -= size
	}
	if cut == 0 {
		return orig
	}
	return cut
}

// extends reports whether r continues the grapheme before it.
func extends(r rune) bool {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc):
		return true
	case r == '\u200d', r >= 0xFE00 && r <= 0xFE0F: // ZWJ, variation selectors
		return true
	case r >= 0x1F3FB && r <= 0x1F3FF: // skin tone modifiers
		return true
	case r >= 0xE0020 && r <= 0xE007F: // tag characters (subdivision flags)
		return true
	}
	return false
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// splitsFlag reports whether cutting at cut separates the two regional
// indicators of a flag: an odd run of them ends at cut and one follows.
func splitsFlag(s string, cut int) bool {
	next, _ := utf8.DecodeRuneInString(s[cut:])
	if !isRegional(next) {
		return false
	}
	n := 0
	for i := cut; i > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if !isRegional(r) {
			break
		}
		n++
		i -= size
	}
	return n%2 == 1
}

// splitText cuts s into pieces of at most max code points, preferring a
// paragraph break, then a line break (each only in the second half of the
// window, so pieces stay large), then any space, and only then a hard cut
// that still respects graphemes. Whitespace at the cut points is dropped;
// the text is otherwise unchanged. Blank text yields nothing.
func splitText(s string, max int) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for utf8.RuneCountInString(s) > max {
		end := runeOffset(s, max)
		window := s[:end]
		var chunk, rest string
		if i := strings.LastIndex(window, "\n\n"); i > len(window)/2 {
			chunk, rest = s[:i], s[i+2:]
		} else if i := strings.LastIndex(window, "\n"); i > len(window)/2 {
			chunk, rest = s[:i], s[i+1:]
		} else if i := strings.LastIndexFunc(window, unicode.IsSpace); i > 0 {
			_, size := utf8.DecodeRuneInString(s[i:])
			chunk, rest = s[:i], s[i+size:]
		} else {
			cut := safeCut(s, end)
			chunk, rest = s[:cut], s[cut:]
		}
		if c := strings.TrimRightFunc(chunk, unicode.IsSpace); c != "" {
			out = append(out, c)
		}
		s = strings.TrimLeftFunc(rest, unicode.IsSpace)
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
