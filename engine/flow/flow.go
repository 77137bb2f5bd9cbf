package flow

import (
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/diag"
)

// SpecVersion is the newest flow language version this build understands
// (the value of the top-level `parley:` key).
const SpecVersion = 1

// File is a flow source file as read from disk. Src is kept so diagnostics
// can quote the offending line and expression offsets can be mapped back to
// line:col.
type File struct {
	Name string
	Src  []byte

	// OffsetPos is called twice per expression: it keeps Src split into
	// lines and, per scalar, the position of every rune offset, so that a
	// flow with thousands of expressions stays linear instead of splitting
	// the file and rescanning the scalar on every call. Src must not change
	// once OffsetPos has been called.
	mu        sync.Mutex
	lines     []string
	positions map[scalarKey][]diag.Pos
}

// ScalarStyle records how a YAML scalar was written; expression offsets map
// to file positions differently for each style.
type ScalarStyle int

const (
	Plain ScalarStyle = iota
	DoubleQuoted
	SingleQuoted
	Literal // |
	Folded  // >
)

// Scalar is a string value with the position it was written at. For block
// scalars (| and >) Range points at the indicator, as yaml.v3 reports it.
// The zero Scalar means "not set".
type Scalar struct {
	Value string
	Range diag.Range
	Style ScalarStyle
}

// IsSet reports whether the scalar was present in the file.
func (s Scalar) IsSet() bool { return s.Range.Start.Line > 0 }

// Int is an integer value with its position. The zero Int means "not set".
type Int struct {
	Value int
	Range diag.Range
}

// IsSet reports whether the value was present in the file.
func (i Int) IsSet() bool { return i.Range.Start.Line > 0 }

// Number is a numeric value with its position. The zero Number means "not set".
type Number struct {
	Value float64
	Range diag.Range
}

// IsSet reports whether the value was present in the file.
func (n Number) IsSet() bool { return n.Range.Start.Line > 0 }

// Bool is a boolean value with its position. The zero Bool means "not set".
type Bool struct {
	Value bool
	Range diag.Range
}

// IsSet reports whether the value was present in the file.
func (b Bool) IsSet() bool { return b.Range.Start.Line > 0 }

// Text is something said to the customer: either one string for every
// language (Plain set) or one string per language (ByLang, in file order).
type Text struct {
	Range  diag.Range
	Plain  Scalar
	ByLang []LangText
}

// LangText is one translation of a Text.
type LangText struct {
	Lang  Scalar // the key, e.g. "en"
	Value Scalar
}

// For returns the text in lang, falling back to fallback (the flow's default
// language), then to the plain string, then to the first translation.
func (t *Text) For(lang, fallback string) Scalar {
	if t == nil {
		return Scalar{}
	}
	if t.Plain.IsSet() {
		return t.Plain
	}
	var fb Scalar
	for _, lt := range t.ByLang {
		if lt.Lang.Value == lang {
			return lt.Value
		}
		if lt.Lang.Value == fallback {
			fb = lt.Value
		}
	}
	if fb.IsSet() || len(t.ByLang) == 0 {
		return fb
	}
	return t.ByLang[0].Value
}

// Flow is one parsed flow file. Slices keep file order so that output is
// deterministic and "steps run in file order" has a meaning.
type Flow struct {
	File  *File
	Range diag.Range

	Spec         Int
	ID           Scalar
	Version      Int
	Description  Scalar
	Languages    []Scalar
	Controller   *Controller
	Purposes     []*Purpose
	Fields       []*Field
	Integrations []*Integration
	Templates    []*MessageTemplate
	Keywords     []*Keyword
	WhatsApp     *WhatsApp
	Start        Scalar
	Steps        []*Step

	// ConversationRetention is how long the conversation state is kept
	// after the last message (a retention such as 30d).
	ConversationRetention Scalar

	// Handoff holds the flow's hand-off settings (handoff: at the top
	// level); nil when the flow declares none.
	Handoff *HandoffSettings
	// OnHandoffTimeout is the step a handed-off conversation returns to
	// when nobody answered within the hand-off timeout. Unset: it ends.
	OnHandoffTimeout Scalar
}

// HandoffSettings says how a hand-off to a person runs.
type HandoffSettings struct {
	Range diag.Range
	// Timeout is how long a conversation waits for a person (24h when
	// unset) before the bot takes it back.
	Timeout Scalar
	// TranscriptRetention is how long what the customer wrote while
	// handed off is kept (30d when unset).
	TranscriptRetention Scalar
	// Notify is an https address told of each new hand-off, with a
	// pseudonymous conversation reference only.
	Notify Scalar
}

// Controller names who is responsible for the data (GDPR art. 4(7)).
type Controller struct {
	Range      diag.Range
	Name       Scalar
	Contact    Scalar
	PrivacyURL Scalar
	// TransfersOutsideEU says where data goes outside the EU and under
	// which safeguard; named in PRIVACY. Unset: the flow declares none.
	TransfersOutsideEU Scalar
}

// Legal bases a purpose may rest on (GDPR art. 6(1)).
const (
	BasisConsent             = "consent"
	BasisContract            = "contract"
	BasisLegalObligation     = "legal_obligation"
	BasisVitalInterests      = "vital_interests"
	BasisPublicTask          = "public_task"
	BasisLegitimateInterests = "legitimate_interests"
)

// Bases lists every legal basis, in the order of GDPR art. 6(1).
var Bases = []string{BasisConsent, BasisContract, BasisLegalObligation, BasisVitalInterests, BasisPublicTask, BasisLegitimateInterests}

// Purpose is why data is collected, with its legal basis.
type Purpose struct {
	Name        Scalar // the key under purposes:
	Range       diag.Range
	Basis       Scalar
	Description *Text
	// OnDecline is the step to continue at when the customer declines
	// consent for this purpose. Unset: skip the steps that would save it.
	OnDecline Scalar
}

// Field types.
const (
	TypeText    = "text"
	TypeEmail   = "email"
	TypePhone   = "phone"
	TypeNumber  = "number"
	TypeDate    = "date"
	TypeChoice  = "choice"
	TypeBoolean = "boolean"
	TypeDigits  = "digits" // digits only, kept as typed: leading zeros stay
	TypeURL     = "url"
)

// FieldTypes lists every field type.
var FieldTypes = []string{TypeText, TypeEmail, TypePhone, TypeNumber, TypeDate, TypeChoice, TypeBoolean, TypeDigits, TypeURL}

// Field is a piece of personal data a flow may collect.
type Field struct {
	Name      Scalar // the key under fields:
	Range     diag.Range
	Type      Scalar
	Purpose   Scalar
	Retention Scalar
	MaxLength Int
	Min, Max  Number
	Special   Scalar // special category (health, religion, …); needs explicit consent
	Label     *Text  // how the field is named to the customer in MY DATA and notices
	// Answer rules of issue 11 (see docs/language.md "Numbers, dates and
	// other answers by language").
	DateOrder      Scalar // date fields: dmy or mdy, for numeric dates
	Length         Int    // digits fields: exactly this many digits
	MinLength      Int    // text and digits fields
	Pattern        Scalar // text and digits fields: a regular expression the whole answer matches
	PatternMessage *Text  // what to tell a customer whose answer does not match
}

// RetentionKind says how long a field is kept.
type RetentionKind int

const (
	// RetainFor keeps the value for a fixed duration after collection.
	RetainFor RetentionKind = iota
	// RetainSession keeps the value until the conversation ends.
	RetainSession
	// RetainTransient never writes the value; it lives for the turn only.
	RetainTransient
)

// Retention is a parsed retention value.
type Retention struct {
	Kind RetentionKind
	For  time.Duration
}

// Integration is an outside system a flow may send fields to.
type Integration struct {
	Name    Scalar
	Range   diag.Range
	URL     Scalar
	Purpose Scalar
	Sends   []Scalar
	// Receives lists the fields the integration's answer fills: each is a
	// key of the JSON object it answers with, named as the field.
	Receives []Scalar
	// ReceivesOptions is the key of the answer holding a list of options
	// (id and title) that an ask with options_from: offers.
	ReceivesOptions Scalar
	SecretEnv       Scalar
	Timeout         Scalar
	// OnErase and OnStop are https endpoints told (pseudonymously) when a
	// subject this integration was sent data about is erased or stops.
	OnErase Scalar
	OnStop  Scalar
	// Recipient names who receives the data sent (an organisation), for
	// notices and PRIVACY.
	Recipient Scalar
}

// WhatsApp holds a flow's WhatsApp settings.
type WhatsApp struct {
	Range diag.Range
	// OutsideWindow is the approved template sent instead of a reply once
	// the customer's 24-hour window has closed; unset: nothing is sent.
	OutsideWindow *Template
}

// Template names an approved WhatsApp message template.
type Template struct {
	Range    diag.Range
	Name     Scalar
	Language Scalar
}

// Template categories, as WhatsApp approves them.
const (
	CategoryUtility        = "utility"
	CategoryMarketing      = "marketing"
	CategoryAuthentication = "authentication"
)

// MessageTemplate is an approved message template the flow may send to a
// customer outside a conversation (a reminder, a broadcast): under
// templates:, keyed by the name steps and commands use.
type MessageTemplate struct {
	Key   Scalar // the key under templates:
	Range diag.Range
	// Name is the name approved in WhatsApp Manager (default: Key).
	Name     Scalar
	Language Scalar
	Category Scalar
	Purpose  Scalar
	// Params are the fields filling {{1}}, {{2}}… of the template's body,
	// in that order.
	Params []Scalar
}

// ApprovedName is the template's approved name: Name, or Key when unset.
func (t *MessageTemplate) ApprovedName() string {
	if t.Name.IsSet() {
		return t.Name.Value
	}
	return t.Key.Value
}

// TemplateByName returns the template declared under key name, or nil.
func (f *Flow) TemplateByName(name string) *MessageTemplate {
	for _, t := range f.Templates {
		if t.Key.Value == name {
			return t
		}
	}
	return nil
}

// Keyword overrides the words that trigger a data-subject right in chat.
type Keyword struct {
	Right Scalar // my_data, delete, stop, privacy, human
	Words *Text  // comma-separated words per language
}

// Option is one choice offered by an ask step.
type Option struct {
	Range diag.Range
	ID    Scalar
	Title *Text
	// Next, when set, is where the conversation goes when the customer
	// picks this option (a menu that routes).
	Next Scalar
}

// Step is one step of a conversation. Which keys are set decides what it
// does (its kind, see StepKinds): say (and move on), ask (and wait, with
// save or routing options), branch (if/then/else), call an integration, hand
// off to a human, forget answers, withdraw a consent, or end.
type Step struct {
	ID    Scalar // the key under steps:
	Range diag.Range

	Say     *Text
	Ask     *Text
	Save    Scalar
	Options []*Option
	// OptionsFrom names the integration whose answer lists the options.
	OptionsFrom Scalar
	Retry       *Text
	Attempts    Int
	OnFail      Scalar

	If   Scalar
	Then Scalar
	Else Scalar

	Call    Scalar
	Handoff *Text
	Next    Scalar
	End     Bool

	// Forget lists the fields a forget step drops.
	Forget []Scalar
	// Withdraw is the purpose whose consent a withdraw step withdraws.
	Withdraw Scalar
	// Remind is the template (a key under templates:) a remind step
	// schedules, At when: a date field plus or minus durations.
	Remind Scalar
	At     Scalar

	// Keys are the keys the step was written with, in file order; Kinds
	// are the kind keys among them, in precedence order (see StepKinds).
	Keys  []string
	Kinds []string
}

// IsAsk reports whether the step waits for the customer.
func (s *Step) IsAsk() bool { return s.Kind() == KindAsk }

// IsBranch reports whether the step is an if/then/else.
func (s *Step) IsBranch() bool { return s.Kind() == KindIf }

// StepByID returns the step with the given id, or nil.
func (f *Flow) StepByID(id string) *Step {
	for _, s := range f.Steps {
		if s.ID.Value == id {
			return s
		}
	}
	return nil
}

// FieldByName returns the declared field with the given name, or nil.
func (f *Flow) FieldByName(name string) *Field {
	for _, fd := range f.Fields {
		if fd.Name.Value == name {
			return fd
		}
	}
	return nil
}

// PurposeByName returns the declared purpose with the given name, or nil.
func (f *Flow) PurposeByName(name string) *Purpose {
	for _, p := range f.Purposes {
		if p.Name.Value == name {
			return p
		}
	}
	return nil
}

// IntegrationByName returns the declared integration with the given name, or nil.
func (f *Flow) IntegrationByName(name string) *Integration {
	for _, in := range f.Integrations {
		if in.Name.Value == name {
			return in
		}
	}
	return nil
}

// DefaultLanguage returns the first declared language, or "en".
func (f *Flow) DefaultLanguage() string {
	if len(f.Languages) > 0 {
		return f.Languages[0].Value
	}
	return "en"
}
