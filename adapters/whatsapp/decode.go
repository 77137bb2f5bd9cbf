package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

// MaxBodyBytes is the largest webhook body Decode accepts. Meta documents
// payloads of up to 3 MB; the margin absorbs escaping. The server's own body
// limit must be set at or just above this value.
const MaxBodyBytes = 3<<20 + 512<<10

// maxIDBytes bounds message ids (wamids are up to 128 characters) so a
// hostile or broken payload cannot plant huge keys in the dedupe store.
const maxIDBytes = 512

// ErrBodyTooLarge is returned by Decode for a body over MaxBodyBytes.
var ErrBodyTooLarge = errors.New("whatsapp: webhook body too large")

// ErrMalformed wraps every shape error Decode reports; the server answers
// 400 to it. The wrapped text names the JSON problem, never body content.
var ErrMalformed = errors.New("whatsapp: malformed webhook body")

// Message types as they appear in messages[].type.
const (
	TypeText           = "text"
	TypeInteractive    = "interactive"
	TypeButton         = "button"
	TypeImage          = "image"
	TypeVideo          = "video"
	TypeAudio          = "audio"
	TypeDocument       = "document"
	TypeSticker        = "sticker"
	TypeLocation       = "location"
	TypeContacts       = "contacts"
	TypeReaction       = "reaction"
	TypeOrder          = "order"
	TypeSystem         = "system"
	TypeRequestWelcome = "request_welcome"
	TypeUnsupported    = "unsupported"
	TypeRevoke         = "revoke"
)

// SystemUserChangedNumber is system.type of the notice WhatsApp sends when a
// customer moves their account to a new phone number.
const SystemUserChangedNumber = "user_changed_number"

// Batch is everything one webhook POST carried for the messages field, in
// payload order, across all entries and changes.
type Batch struct {
	Messages []InboundMessage
	Statuses []Status
	// Errors are value-level errors not tied to one message.
	Errors []ErrorDetail
	// Dropped counts items that were skipped because they could not be
	// used: a message or status without an id, a message without any sender
	// id, an item whose fields had impossible types.
	Dropped int
}

// Identity is who a message is from (or a status is for). It is personal
// data and redacts itself in fmt and slog; use its fields directly where the
// value is really needed (addressing a reply, deriving a subject id).
type Identity struct {
	// WaID is the user's WhatsApp id (usually the phone number in
	// international digits): messages[].from, else contacts[].wa_id. It may
	// be empty for users who adopted a username (2026+).
	WaID string
	// UserID is the business-scoped user id (BSUID), e.g. "US.1349…":
	// messages[].from_user_id, else contacts[].user_id.
	UserID string
	// ParentUserID is the optional enterprise-wide BSUID.
	ParentUserID string
	// Username is set only for users who adopted a WhatsApp username.
	Username string
}

// Key returns the id to address the user by: WaID when present, otherwise
// the BSUID. Render accepts either as its to argument.
func (i Identity) Key() string {
	if i.WaID != "" {
		return i.WaID
	}
	return i.UserID
}

// IsZero reports whether no id at all is known.
func (i Identity) IsZero() bool { return i.WaID == "" && i.UserID == "" }

// String hides the content.
func (Identity) String() string { return "[redacted]" }

// GoString hides the content from %#v.
func (Identity) GoString() string { return "[redacted]" }

// LogValue hides the content from slog.
func (Identity) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Media describes an inbound image, video, audio, document or sticker. The
// bytes are never downloaded here.
type Media struct {
	ID       string
	MimeType string
	// Caption is typed by the user, so it is redacted like an answer.
	Caption runtime.Answer
	// Voice is set for voice notes.
	Voice bool
}

// Location is a shared pin. It is personal data and redacts itself.
type Location struct {
	Latitude, Longitude float64
	Name, Address       string
}

// String hides the content.
func (Location) String() string { return "[redacted]" }

// GoString hides the content from %#v.
func (Location) GoString() string { return "[redacted]" }

// LogValue hides the content from slog.
func (Location) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Reaction is an emoji reaction to one of the business's messages. An empty
// Emoji means the reaction was removed.
type Reaction struct {
	MessageID string
	Emoji     string
}

// Unsupported describes a message Parley cannot read.
type Unsupported struct {
	// Type is unsupported.type when Meta gives it (poll_creation, gif, …),
	// otherwise the wire type that was not understood.
	Type string
	// Code is the first error code Meta attached (131051, 131060), or 0.
	Code int
}

// InboundMessage is one user message from a webhook. It implements
// slog.LogValuer and logs only its id, type and business number id.
type InboundMessage struct {
	// ID is the wamid, the dedupe key.
	ID   string
	From Identity
	// PhoneNumberID is the business number it was sent to (metadata).
	PhoneNumberID string
	// Timestamp is when WhatsApp received it; zero if absent or invalid.
	Timestamp time.Time
	// Type is messages[].type as sent ("text", "interactive", "button", …).
	Type string
	// Text is the typed text of a text message.
	Text runtime.Answer
	// Choice is the id of a tapped reply button or list row, or the payload
	// of a tapped template quick-reply button.
	Choice string
	// Title is the visible label of what was tapped.
	Title string
	// Media is set for image, video, audio, document and sticker.
	Media *Media
	// Location is set for a shared location.
	Location *Location
	// Contacts is the number of contact cards shared (cards are not kept).
	Contacts int
	// Reaction is set for a reaction.
	Reaction *Reaction
	// Unsupported is set for anything Parley cannot read: Meta's own
	// "unsupported" type, types this package does not know, interactive
	// replies other than button and list replies, orders, edits.
	Unsupported *Unsupported
	// Context is the wamid the user replied to (context.id), if any.
	Context string
	// Forwarded is set when WhatsApp marked the message as forwarded.
	Forwarded bool
	// NewWaID is set on a system message of type user_changed_number: the
	// customer's new WhatsApp id (From holds the old one). It is personal
	// data. The notice's body text, which quotes both numbers, is never
	// decoded.
	NewWaID string
	// Campaign is set on the first message from a click-to-WhatsApp ad:
	// "<source_type>:<source_id>" (ad:120208…). Only the ad's id is
	// decoded: its headline, body, URLs, the click id (ctwa_clid) and the
	// welcome text are not.
	Campaign string
}

// LogValue logs only non-personal fields.
func (m InboundMessage) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", m.ID),
		slog.String("type", m.Type),
		slog.String("phone_number_id", m.PhoneNumberID),
	)
}

// NeedsUnsupportedReply reports whether the user sent something the bot
// cannot read and should be told so (UnsupportedReply). Reactions, deleted
// messages, system notices and welcome requests are not answered.
func (m InboundMessage) NeedsUnsupportedReply() bool {
	if _, ok := ToInbound(m); ok {
		return false
	}
	switch m.Type {
	case TypeReaction, TypeRevoke, TypeSystem, TypeRequestWelcome:
		return false
	}
	return true
}

// Status is a delivery report for a message the business sent. It logs
// without the recipient.
type Status struct {
	// ID is the wamid returned by the send call.
	ID string
	// Recipient is recipient_id and recipient_user_id.
	Recipient     Identity
	PhoneNumberID string
	// Status is "sent", "delivered", "read", "failed" (or "played", or
	// anything newer Meta adds).
	Status    string
	Timestamp time.Time
	// CallbackData echoes the biz_opaque_callback_data of the send.
	CallbackData string
	Errors       []ErrorDetail
}

// LogValue logs only non-personal fields.
func (s Status) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("status", s.Status),
		slog.String("phone_number_id", s.PhoneNumberID),
	)
}

// ErrorDetail is one error Meta attached to a status, a message or a value.
type ErrorDetail struct {
	Code    int
	Title   string
	Details string
}

// The wire shapes. Only what Parley reads is declared; unknown fields are
// ignored, and everything is optional.

type wireEnvelope struct {
	Object string      `json:"object"`
	Entry  []wireEntry `json:"entry"`
}

type wireEntry struct {
	Changes []wireChange `json:"changes"`
}

type wireChange struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

type wireValue struct {
	Metadata struct {
		PhoneNumberID string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []json.RawMessage `json:"contacts"`
	Messages []json.RawMessage `json:"messages"`
	Statuses []json.RawMessage `json:"statuses"`
	Errors   []json.RawMessage `json:"errors"`
}

// wireContact deliberately has no profile.name: names are never decoded.
type wireContact struct {
	WaID         string `json:"wa_id"`
	UserID       string `json:"user_id"`
	ParentUserID string `json:"parent_user_id"`
	Profile      struct {
		Username string `json:"username"`
	} `json:"profile"`
}

type wireError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

type wireMessage struct {
	From       string   `json:"from"`
	FromUserID string   `json:"from_user_id"`
	ID         string   `json:"id"`
	Timestamp  unixTime `json:"timestamp"`
	Type       string   `json:"type"`
	Context    *struct {
		ID        string `json:"id"`
		Forwarded bool   `json:"forwarded"`
		Frequent  bool   `json:"frequently_forwarded"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive *struct {
		Type        string     `json:"type"`
		ButtonReply *wireReply `json:"button_reply"`
		ListReply   *wireReply `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Image    *wireMedia        `json:"image"`
	Video    *wireMedia        `json:"video"`
	Audio    *wireMedia        `json:"audio"`
	Document *wireMedia        `json:"document"`
	Sticker  *wireMedia        `json:"sticker"`
	Location *wireLocation     `json:"location"`
	Contacts []json.RawMessage `json:"contacts"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Unsupported *struct {
		Type string `json:"type"`
	} `json:"unsupported"`
	// System deliberately has no body: it quotes the old and new numbers.
	System *struct {
		Type string `json:"type"`
		WaID string `json:"wa_id"`
	} `json:"system"`
	Errors []wireError `json:"errors"`
	// Referral keeps only what identifies the ad: the click id
	// (ctwa_clid) ties the message to one person's click and is not read.
	Referral *struct {
		SourceID   string `json:"source_id"`
		SourceType string `json:"source_type"`
	} `json:"referral"`
}

type wireReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type wireMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Voice    bool   `json:"voice"`
}

type wireLocation struct {
	Latitude  flexFloat `json:"latitude"`
	Longitude flexFloat `json:"longitude"`
	Name      string    `json:"name"`
	Address   string    `json:"address"`
}

type wireStatus struct {
	ID              string      `json:"id"`
	Status          string      `json:"status"`
	Timestamp       unixTime    `json:"timestamp"`
	RecipientID     string      `json:"recipient_id"`
	RecipientUserID string      `json:"recipient_user_id"`
	CallbackData    string      `json:"biz_opaque_callback_data"`
	Errors          []wireError `json:"errors"`
}

// unixTime accepts Unix seconds as a JSON string (what Meta sends) or a
// number. Anything else, including an unparsable string, leaves it zero.
type unixTime struct{ time.Time }

func (u *unixTime) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return nil
	}
	u.Time = time.Unix(n, 0).UTC()
	return nil
}

// flexFloat accepts a JSON number or a numeric string.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
	if err == nil {
		*f = flexFloat(v)
	}
	return nil
}

// Decode parses a webhook POST body. It walks every entry and every change
// whose field is "messages", and returns their messages, statuses and
// value-level errors in payload order. Other objects ("page", "instagram")
// and other fields decode to an empty batch without error, so the server
// acknowledges them. Unknown fields and missing fields are tolerated; items
// whose known fields have impossible types are skipped and counted in
// Dropped. A body that is not a JSON object, or whose entry/changes are not
// arrays, is an error wrapping ErrMalformed (answer 400); a body over
// MaxBodyBytes is ErrBodyTooLarge.
//
// The body must already have passed VerifySignature.
func Decode(body []byte) (Batch, error) {
	var b Batch
	if len(body) > MaxBodyBytes {
		return b, ErrBodyTooLarge
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return b, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	// Most bodies decode in one pass into typed items; any type error
	// anywhere sends the body through the item-by-item decoding below,
	// which skips and counts only the items at fault.
	var typed typedEnvelope
	if json.Unmarshal(trimmed, &typed) == nil {
		if typed.Object != "whatsapp_business_account" {
			return b, nil
		}
		for _, e := range typed.Entry {
			for _, c := range e.Changes {
				if c.Field == "messages" && c.Value != nil {
					b.addTyped(c.Value)
				}
			}
		}
		return b, nil
	}
	return decodeByItem(trimmed)
}

// decodeByItem is Decode item by item: an item whose known fields have
// impossible types is skipped and counted.
func decodeByItem(trimmed []byte) (Batch, error) {
	var b Batch
	var env wireEnvelope
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return b, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if env.Object != "whatsapp_business_account" {
		return b, nil
	}
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			if c.Field != "messages" || len(c.Value) == 0 {
				continue
			}
			var v wireValue
			if err := json.Unmarshal(c.Value, &v); err != nil {
				b.Dropped++
				continue
			}
			b.addValue(&v)
		}
	}
	return b, nil
}

// jsonProblem describes a decoding error without quoting the input: a
// SyntaxError's text names only the offending character, and type errors
// name the Go field, but both are reduced to their kind and offset here.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("unexpected %s at %q", te.Value, te.Field)
	default:
		return "invalid JSON"
	}
}

// typedEnvelope is wireEnvelope with every item typed: Decode's one-pass
// form of a body without a type error.
type typedEnvelope struct {
	Object string `json:"object"`
	Entry  []struct {
		Changes []struct {
			Field string      `json:"field"`
			Value *typedValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type typedValue struct {
	Metadata struct {
		PhoneNumberID string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []wireContact `json:"contacts"`
	Messages []wireMessage `json:"messages"`
	Statuses []wireStatus  `json:"statuses"`
	Errors   []wireError   `json:"errors"`
}

// addTyped is addValue for a value decoded in one pass.
func (b *Batch) addTyped(v *typedValue) {
	pnid := v.Metadata.PhoneNumberID
	for i := range v.Messages {
		m, ok := convertMessage(&v.Messages[i], v.Contacts, pnid)
		if !ok {
			b.Dropped++
			continue
		}
		b.Messages = append(b.Messages, m)
	}
	for i := range v.Statuses {
		st, ok := convertStatus(&v.Statuses[i], pnid)
		if !ok {
			b.Dropped++
			continue
		}
		b.Statuses = append(b.Statuses, st)
	}
	b.Errors = append(b.Errors, convertErrors(v.Errors)...)
}

func convertStatus(w *wireStatus, pnid string) (Status, bool) {
	if w.ID == "" || len(w.ID) > maxIDBytes {
		return Status{}, false
	}
	return Status{
		ID:            w.ID,
		Recipient:     Identity{WaID: w.RecipientID, UserID: w.RecipientUserID},
		PhoneNumberID: pnid,
		Status:        w.Status,
		Timestamp:     w.Timestamp.Time,
		CallbackData:  w.CallbackData,
		Errors:        convertErrors(w.Errors),
	}, true
}

func (b *Batch) addValue(v *wireValue) {
	pnid := v.Metadata.PhoneNumberID
	contacts := make([]wireContact, 0, len(v.Contacts))
	for _, raw := range v.Contacts {
		var c wireContact
		if json.Unmarshal(raw, &c) == nil {
			contacts = append(contacts, c)
		}
	}
	for _, raw := range v.Messages {
		var w wireMessage
		if err := json.Unmarshal(raw, &w); err != nil {
			b.Dropped++
			continue
		}
		m, ok := convertMessage(&w, contacts, pnid)
		if !ok {
			b.Dropped++
			continue
		}
		b.Messages = append(b.Messages, m)
	}
	for _, raw := range v.Statuses {
		var w wireStatus
		if err := json.Unmarshal(raw, &w); err != nil {
			b.Dropped++
			continue
		}
		st, ok := convertStatus(&w, pnid)
		if !ok {
			b.Dropped++
			continue
		}
		b.Statuses = append(b.Statuses, st)
	}
	for _, raw := range v.Errors {
		var w wireError
		if json.Unmarshal(raw, &w) == nil {
			b.Errors = append(b.Errors, convertErrors([]wireError{w})...)
		}
	}
}

func convertErrors(ws []wireError) []ErrorDetail {
	if len(ws) == 0 {
		return nil
	}
	out := make([]ErrorDetail, len(ws))
	for i, w := range ws {
		title := w.Title
		if title == "" {
			title = w.Message
		}
		out[i] = ErrorDetail{Code: w.Code, Title: title, Details: w.ErrorData.Details}
	}
	return out
}

// senderOf builds the sender identity: the message's own fields first, then
// the contact that matches one of them by id (never by position).
func senderOf(w *wireMessage, contacts []wireContact) Identity {
	id := Identity{WaID: w.From, UserID: w.FromUserID}
	for _, c := range contacts {
		if (id.WaID != "" && c.WaID == id.WaID) || (id.UserID != "" && c.UserID == id.UserID) {
			if id.WaID == "" {
				id.WaID = c.WaID
			}
			if id.UserID == "" {
				id.UserID = c.UserID
			}
			id.ParentUserID = c.ParentUserID
			id.Username = c.Profile.Username
			break
		}
	}
	return id
}

func convertMessage(w *wireMessage, contacts []wireContact, pnid string) (InboundMessage, bool) {
	m := InboundMessage{
		ID:            w.ID,
		From:          senderOf(w, contacts),
		PhoneNumberID: pnid,
		Timestamp:     w.Timestamp.Time,
		Type:          w.Type,
	}
	if m.ID == "" || len(m.ID) > maxIDBytes || m.From.IsZero() {
		return m, false
	}
	if r := w.Referral; r != nil && runtime.ValidCampaign(r.SourceType) && runtime.ValidCampaign(r.SourceID) {
		m.Campaign = r.SourceType + ":" + r.SourceID
	}
	if w.Context != nil {
		m.Context = w.Context.ID
		m.Forwarded = w.Context.Forwarded || w.Context.Frequent
	}
	unsupported := func(typ string) {
		u := &Unsupported{Type: typ}
		if len(w.Errors) > 0 {
			u.Code = w.Errors[0].Code
		}
		m.Unsupported = u
	}
	media := func(p *wireMedia) {
		if p == nil {
			unsupported(w.Type)
			return
		}
		m.Media = &Media{ID: p.ID, MimeType: p.MimeType, Caption: runtime.Answer(p.Caption), Voice: p.Voice}
	}
	switch w.Type {
	case TypeText:
		if w.Text == nil {
			unsupported(w.Type)
			break
		}
		m.Text = runtime.Answer(w.Text.Body)
	case TypeInteractive:
		var r *wireReply
		if w.Interactive != nil {
			switch w.Interactive.Type {
			case "button_reply":
				r = w.Interactive.ButtonReply
			case "list_reply":
				r = w.Interactive.ListReply
			}
		}
		if r == nil || r.ID == "" {
			sub := TypeInteractive
			if w.Interactive != nil && w.Interactive.Type != "" {
				sub = w.Interactive.Type
			}
			unsupported(sub)
			break
		}
		m.Choice, m.Title = r.ID, r.Title
	case TypeButton:
		if w.Button == nil || w.Button.Payload == "" {
			unsupported(w.Type)
			break
		}
		m.Choice, m.Title = w.Button.Payload, w.Button.Text
	case TypeImage:
		media(w.Image)
	case TypeVideo:
		media(w.Video)
	case TypeAudio:
		media(w.Audio)
	case TypeDocument:
		media(w.Document)
	case TypeSticker:
		media(w.Sticker)
	case TypeLocation:
		if w.Location == nil {
			unsupported(w.Type)
			break
		}
		m.Location = &Location{
			Latitude:  float64(w.Location.Latitude),
			Longitude: float64(w.Location.Longitude),
			Name:      w.Location.Name,
			Address:   w.Location.Address,
		}
	case TypeContacts:
		m.Contacts = len(w.Contacts)
	case TypeReaction:
		if w.Reaction == nil {
			unsupported(w.Type)
			break
		}
		m.Reaction = &Reaction{MessageID: w.Reaction.MessageID, Emoji: w.Reaction.Emoji}
	case TypeSystem:
		// Nothing to answer; NeedsUnsupportedReply keeps these quiet. A
		// number change is kept so the server can move the conversation.
		if w.System != nil && w.System.Type == SystemUserChangedNumber && w.System.WaID != "" && len(w.System.WaID) <= maxIDBytes {
			m.NewWaID = w.System.WaID
		}
	case TypeRequestWelcome, TypeRevoke:
		// Nothing to read; NeedsUnsupportedReply keeps these quiet.
	case TypeUnsupported:
		typ := TypeUnsupported
		if w.Unsupported != nil && w.Unsupported.Type != "" {
			typ = w.Unsupported.Type
		}
		unsupported(typ)
	default:
		// order, edit, unknown, and whatever Meta adds next.
		unsupported(w.Type)
	}
	return m, true
}

// ToInbound maps a decoded message onto the runtime's inbound type. Text
// messages carry Text; reply-button, list and template quick-reply taps carry
// Choice, with the visible title as Text so a flow that expects typed text
// still gets something sensible. Everything else reports ok=false: the
// server then sends UnsupportedReply if NeedsUnsupportedReply says so.
func ToInbound(m InboundMessage) (runtime.Inbound, bool) {
	if m.Unsupported != nil {
		return runtime.Inbound{}, false
	}
	switch m.Type {
	case TypeText:
		return runtime.Inbound{ID: m.ID, Text: m.Text}, true
	case TypeInteractive, TypeButton:
		if m.Choice == "" {
			return runtime.Inbound{}, false
		}
		return runtime.Inbound{ID: m.ID, Choice: m.Choice, Text: runtime.Answer(m.Title)}, true
	}
	return runtime.Inbound{}, false
}

var unsupportedReplies = map[string]string{
	"en": "Sorry, I can only read text messages and button taps here. Please type your answer or tap one of the buttons.",
	"it": "Mi dispiace, qui posso leggere solo messaggi di testo e tocchi sui pulsanti. Scrivi la tua risposta o tocca uno dei pulsanti.",
	"es": "Lo siento, aquí solo puedo leer mensajes de texto y botones. Escribe tu respuesta o toca uno de los botones.",
	"fr": "Désolé, je ne peux lire ici que des messages texte et des boutons. Écrivez votre réponse ou touchez l'un des boutons.",
	"de": "Entschuldigung, ich kann hier nur Textnachrichten und Schaltflächen lesen. Bitte schreib deine Antwort oder tippe auf eine Schaltfläche.",
	"pt": "Desculpe, aqui só consigo ler mensagens de texto e botões. Escreva sua resposta ou toque em um dos botões.",
}

// UnsupportedReply is the message sent when a user sends something the bot
// cannot read (media, a location, contacts, a poll…), in lang ("it",
// "it-IT", "pt_BR"); English when the language is not known.
func UnsupportedReply(lang string) string {
	return localized(unsupportedReplies, lang)
}

// localized picks table[lang], trying the base language of a tag ("it-IT",
// "pt_BR") and falling back to English.
func localized(table map[string]string, lang string) string {
	l := strings.ToLower(lang)
	if s, ok := table[l]; ok {
		return s
	}
	if i := strings.IndexAny(l, "-_"); i > 0 {
		if s, ok := table[l[:i]]; ok {
			return s
		}
	}
	return table["en"]
}
