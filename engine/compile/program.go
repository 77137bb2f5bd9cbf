package compile

import (
	"regexp"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/parleyhq/parley/engine/flow"
)

// LangKey is the environment name under which the runtime passes the
// conversation's language to expressions. It cannot be written in a flow (it
// starts with a NUL byte), so authors never see or shadow it.
const LangKey = "\x00lang"

// StepKind says what a step does.
type StepKind uint8

// Step kinds. A step that only has next: or end: true is a StepGoto.
const (
	StepGoto StepKind = iota
	StepSay
	StepAsk
	StepBranch
	StepCall
	StepHandoff
	StepForget
	StepWithdraw
	StepRemind
)

// None marks an unset step, field, purpose or integration index.
const None = -1

// Step is one compiled step. Indexes refer to Program tables; None means unset.
type Step struct {
	ID    string
	Index int
	Kind  StepKind
	// Text is the say, ask or handoff text.
	Text  *Text
	Retry *Text
	// Save is the index of the field an ask saves.
	Save     int
	Options  []Option
	Attempts int
	// Next is where the step goes when it is done: its next:, or the
	// following step in file order; None ends the conversation.
	Next int
	// Then and Else are the branch targets; an unset one falls through to Next.
	Then, Else int
	OnFail     int
	Cond       *vm.Program
	// CondSrc is kept for diagnostics at run time (never values).
	Integration int
	// OptionsFrom is the integration whose answer lists the options an
	// ask offers (options_from:), or None.
	OptionsFrom int
	End         bool
	// Purpose is the purpose index of the saved field (ask), of the
	// integration (call) or of the consent withdrawn (withdraw), or None.
	Purpose int
	// Forget holds the indexes of the fields a forget step drops.
	Forget []int
	// Template is the index in Templates of the template a remind step
	// schedules (None otherwise); AtField the date field it is computed
	// from and AtOffset what is added to that date's midnight (UTC).
	Template int
	AtField  int
	AtOffset time.Duration
}

// Text is a compiled text, one template per program language (index as in
// Program.Languages).
type Text struct {
	ByLang []*Template
}

// For returns the template for language index li.
func (t *Text) For(li int) *Template {
	if t == nil || len(t.ByLang) == 0 {
		return nil
	}
	if li < 0 || li >= len(t.ByLang) {
		li = 0
	}
	return t.ByLang[li]
}

// PartKind says what a template part holds.
type PartKind uint8

// Template part kinds. PartField and PartTitle are fast paths that need no
// expression run: {{ name }} and {{ title(date) }}.
const (
	PartLiteral PartKind = iota
	PartField
	PartTitle
	PartExpr
)

// Part is one piece of a template.
type Part struct {
	Kind  PartKind
	Lit   string
	Field int
	Prog  *vm.Program
}

// Template is a text split into literal parts and expressions. A Static
// template has no expressions; Src is then the whole text and rendering it
// costs nothing.
type Template struct {
	Src    string
	Static bool
	Parts  []Part
}

// Option is one choice offered by an ask step.
type Option struct {
	ID    string
	Title *Text
	// Norm holds the normalized static title per language (see Normalize),
	// or "" where the title is a template.
	Norm []string
	// Next is the step a routing option goes to, or None.
	Next int
}

// Field is a declared field with everything the runtime and the vault need.
type Field struct {
	Name         string
	Index        int
	Type         string
	Purpose      string
	PurposeIndex int
	Basis        string
	Retention    flow.Retention
	MaxLength    int
	Min, Max     float64
	HasMin       bool
	HasMax       bool
	Special      string
	// Labels is how the field is named to the customer, per language.
	Labels []string
	// Options is the union of the options of every ask that saves the
	// field, for title().
	Options []Option
	// Answer rules (compileAnswerRules): DateOrder is "dmy", "mdy" or ""
	// (the language's); Length and MinLength bound digits and text;
	// Pattern must match the whole answer, and PatternMessage is what a
	// customer whose answer does not match is told.
	DateOrder      string
	Length         int
	MinLength      int
	Pattern        *regexp.Regexp
	PatternMessage *Text
	// Zero is the value an expression sees when the field is not held.
	Zero any
}

// Label returns the field's label in language index li.
func (f *Field) Label(li int) string {
	if li < 0 || li >= len(f.Labels) {
		li = 0
	}
	return f.Labels[li]
}

// Purpose is a declared purpose.
type Purpose struct {
	Name  string
	Index int
	Basis string
	// NeedsConsent is true for basis consent and for any purpose that
	// collects a special-category field.
	NeedsConsent bool
	Description  *Text
	OnDecline    int
	Fields       []int
	// Notices holds the consent question (NeedsConsent) or the notice at
	// collection, per language, with its hash. Nil entries mean the
	// description is a template: build it at run time with BuildNotice.
	Notices []*Notice
	// ConsentProof is how long a consent record of this purpose is kept:
	// the longest retention of its fields plus one year (lifetimes.go).
	ConsentProof time.Duration
}

// Notice is a privacy text shown to the customer and its SHA-256 (hex), which
// goes into consent records.
type Notice struct {
	Text string
	Hash string
}

// Integration is a declared integration, compiled: everything a call or a
// notice to it needs, so nothing at run time reads the syntax tree and a name
// is only ever resolved inside its own flow. It is a value that is never
// modified after compilation; Program hands out copies (the slices are
// shared: do not modify them).
type Integration struct {
	// Flow is the id of the flow that declares the integration.
	Flow         string
	Name         string
	Index        int
	Purpose      string
	PurposeIndex int
	// Sends lists the field indexes sent, in file order; SendNames their names.
	Sends     []int
	SendNames []string
	// Receives lists the field indexes the answer fills, in file order;
	// ReceiveNames their names (the JSON keys read from the answer).
	Receives     []int
	ReceiveNames []string
	// OptionsKey is the key of the answer holding the options an ask with
	// options_from: offers (receives_options:), or empty.
	OptionsKey string
	// URL is where calls are posted (https only; see IsHTTPS).
	URL string
	// SecretEnv names the environment variable holding the bearer token,
	// or is empty. The secret itself is read at call time. It never starts
	// with reservedEnvPrefix.
	SecretEnv string
	// Recipient is who receives what is sent, as the flow declares it.
	Recipient string
	// Timeout bounds one call: the flow's timeout when it is within
	// (0, MaxCallTimeout], otherwise DefaultCallTimeout.
	Timeout time.Duration
	// OnErase and OnStop are the https endpoints that receive pseudonymous
	// erasure and stop notices for subjects this integration was sent data
	// about (GDPR art. 19); empty: none declared.
	OnErase, OnStop string
}

// Bounds of an integration's timeout.
const (
	DefaultCallTimeout = 5 * time.Second
	MaxCallTimeout     = time.Minute
)

// callTimeout turns a flow's timeout into the bounded one calls use.
func callTimeout(s string) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > 0 && d <= MaxCallTimeout {
		return d
	}
	return DefaultCallTimeout
}

// WhatsAppTemplate is an approved WhatsApp message template: the flow's
// outside_window template (no purpose, no parameters) or one declared
// under templates:.
type WhatsAppTemplate struct {
	Name, Language string
	// Key is the name under templates: (empty for outside_window).
	Key string
	// Category is utility, marketing or authentication (empty for
	// outside_window).
	Category string
	// Purpose is what the template is sent for; PurposeIndex its index
	// (None for outside_window).
	Purpose      string
	PurposeIndex int
	// Params are the indexes of the fields filling {{1}}, {{2}}…, in that
	// order; ParamNames their names.
	Params     []int
	ParamNames []string
}

// Controller is who is responsible for the data.
type Controller struct {
	Name, Contact, PrivacyURL string
	// TransfersOutsideEU is the flow's declaration of transfers outside
	// the EU, or empty.
	TransfersOutsideEU string
}

// Right is a data-subject right triggered by a chat keyword.
type Right uint8

// Rights triggered by keywords.
const (
	RightNone Right = iota
	RightMyData
	RightDelete
	RightStop
	RightPrivacy
	RightHuman
	// RightLanguage (LANGUAGE, LINGUA) lets the customer pick another of the
	// flow's languages; it only acts in flows with several languages.
	RightLanguage
)

// Program is a compiled flow. It is immutable and safe for concurrent use.
type Program struct {
	id           string
	version      int
	description  string
	outsideTpl   *WhatsAppTemplate
	templates    []WhatsAppTemplate
	langs        []string
	controller   Controller
	steps        []Step
	stepIndex    map[string]int
	start        int
	fields       []Field
	fieldIndex   map[string]int
	purposes     []Purpose
	purposeIndex map[string]int
	integrations []Integration
	intIndex     map[string]int
	keywords     []map[string]Right // per language
	// conversationRetention: see ConversationRetention (lifetimes.go).
	conversationRetention time.Duration
	// handoff: see Handoff (lifetimes.go).
	handoff Handoff
}

// ID returns the flow id.
func (p *Program) ID() string { return p.id }

// Version returns the flow version.
func (p *Program) Version() int { return p.version }

// Languages returns the flow's languages; the first is the default. Do not
// modify the slice.
func (p *Program) Languages() []string { return p.langs }

// LangIndex returns the index of lang in Languages, or 0 (the default).
func (p *Program) LangIndex(lang string) int {
	for i, l := range p.langs {
		if l == lang {
			return i
		}
	}
	return 0
}

// HasLang reports whether the flow declares lang.
func (p *Program) HasLang(lang string) bool {
	for _, l := range p.langs {
		if l == lang {
			return true
		}
	}
	return false
}

// Description returns the flow's description.
func (p *Program) Description() string { return p.description }

// OutsideWindowTemplate returns the WhatsApp template the flow sends once the
// customer's 24-hour window has closed, and false when it has none.
func (p *Program) OutsideWindowTemplate() (WhatsAppTemplate, bool) {
	if p.outsideTpl == nil {
		return WhatsAppTemplate{}, false
	}
	return *p.outsideTpl, true
}

// Templates returns the templates declared under templates:, in file
// order. Do not modify the slice.
func (p *Program) Templates() []WhatsAppTemplate { return p.templates }

// HasTemplateFor reports whether a template under templates: is sent for
// purpose.
func (p *Program) HasTemplateFor(purpose string) bool {
	for _, t := range p.templates {
		if t.Purpose == purpose {
			return true
		}
	}
	return false
}

// Template returns the template declared under key, and false when the
// flow declares none by that name.
func (p *Program) Template(key string) (WhatsAppTemplate, bool) {
	for _, t := range p.templates {
		if t.Key == key {
			return t, true
		}
	}
	return WhatsAppTemplate{}, false
}

// Controller returns the controller named by the flow.
func (p *Program) Controller() Controller { return p.controller }

// Start returns the index of the first step, or None for a flow without steps.
func (p *Program) Start() int { return p.start }

// NumSteps returns the number of steps.
func (p *Program) NumSteps() int { return len(p.steps) }

// StepAt returns step i. The result is shared: do not modify it.
func (p *Program) StepAt(i int) *Step { return &p.steps[i] }

// StepIndex returns the index of the step with the given id.
func (p *Program) StepIndex(id string) (int, bool) {
	i, ok := p.stepIndex[id]
	return i, ok
}

// Field returns the declared field called name. The result is shared: do
// not modify it.
func (p *Program) Field(name string) (*Field, bool) {
	i, ok := p.fieldIndex[name]
	if !ok {
		return nil, false
	}
	return &p.fields[i], true
}

// FieldAt returns field i.
func (p *Program) FieldAt(i int) *Field { return &p.fields[i] }

// NumFields returns the number of declared fields.
func (p *Program) NumFields() int { return len(p.fields) }

// Purposes returns the declared purposes in file order. Do not modify them.
func (p *Program) Purposes() []Purpose { return p.purposes }

// Purpose returns the purpose called name.
func (p *Program) Purpose(name string) (*Purpose, bool) {
	i, ok := p.purposeIndex[name]
	if !ok {
		return nil, false
	}
	return &p.purposes[i], true
}

// PurposeAt returns purpose i.
func (p *Program) PurposeAt(i int) *Purpose { return &p.purposes[i] }

// Integrations returns the declared integrations in file order. Do not
// modify them.
func (p *Program) Integrations() []Integration { return p.integrations }

// IntegrationAt returns integration i.
func (p *Program) IntegrationAt(i int) *Integration { return &p.integrations[i] }

// Integration returns a copy of the integration called name declared by this
// flow; names of other flows are never seen.
func (p *Program) Integration(name string) (Integration, bool) {
	i, ok := p.intIndex[name]
	if !ok {
		return Integration{}, false
	}
	return p.integrations[i], true
}

// Keyword returns the right that the normalized message norm triggers in
// language index li (English keywords always work too), or RightNone.
func (p *Program) Keyword(norm string, li int) Right {
	if li >= 0 && li < len(p.keywords) {
		if r, ok := p.keywords[li][norm]; ok {
			return r
		}
	}
	return p.keywords[len(p.keywords)-1][norm]
}

// OptionTitle returns the title of option id of a choice field in language
// index li, or id itself when there is no such option.
func (p *Program) OptionTitle(field int, id string, li int) string {
	if field < 0 || field >= len(p.fields) {
		return id
	}
	for i := range p.fields[field].Options {
		o := &p.fields[field].Options[i]
		if o.ID == id {
			if t := o.Title.For(li); t != nil {
				return t.Src
			}
		}
	}
	return id
}

// reservedEnvPrefix starts the names of Parley's own settings, secrets
// among them (PARLEY_MASTER_KEY, PARLEY_WHATSAPP_APP_SECRET, …); no
// integration may name one as its secret_env.
const reservedEnvPrefix = "PARLEY_"
