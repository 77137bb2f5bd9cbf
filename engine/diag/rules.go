package diag

import "sort"

// RuleID is the stable identifier of a diagnostic rule, such as "PARLEY-101".
// IDs never change meaning once released; CI configurations and SARIF
// consumers key on them.
type RuleID string

// Rule describes one kind of diagnostic. The rule table is the single source
// of truth for IDs, slugs, severities and help text: lint output, --explain,
// SARIF and docs all read it from here.
type Rule struct {
	ID       RuleID
	Slug     string
	Severity Severity
	Summary  string
	Help     string
}

// Rule IDs. Groups: 0xx YAML syntax, 1xx structure (schema), 2xx meaning
// (references, expressions, reachability), 3xx privacy.
const (
	YAMLSyntax          RuleID = "PARLEY-001"
	DuplicateKey        RuleID = "PARLEY-002"
	AliasNotAllowed     RuleID = "PARLEY-003"
	SpecVersion         RuleID = "PARLEY-004"
	EmptyFile           RuleID = "PARLEY-005"
	CustomTag           RuleID = "PARLEY-006"
	MultipleDocuments   RuleID = "PARLEY-007"
	NonTextKey          RuleID = "PARLEY-008"
	FileTooLarge        RuleID = "PARLEY-009"
	UnknownKey          RuleID = "PARLEY-101"
	WrongType           RuleID = "PARLEY-102"
	MissingKey          RuleID = "PARLEY-103"
	InvalidValue        RuleID = "PARLEY-104"
	UnknownStep         RuleID = "PARLEY-201"
	UnknownField        RuleID = "PARLEY-202"
	UnknownPurpose      RuleID = "PARLEY-203"
	OptionsNotChoice    RuleID = "PARLEY-204"
	MissingLanguage     RuleID = "PARLEY-205"
	ExprError           RuleID = "PARLEY-206"
	TypeMismatch        RuleID = "PARLEY-207"
	Unreachable         RuleID = "PARLEY-208"
	LoopWithoutWait     RuleID = "PARLEY-209"
	UnknownIntegration  RuleID = "PARLEY-210"
	StepShape           RuleID = "PARLEY-211"
	NoEnd               RuleID = "PARLEY-212"
	ChoiceNoOptions     RuleID = "PARLEY-213"
	UnknownLanguage     RuleID = "PARLEY-214"
	SendsOtherPurpose   RuleID = "PARLEY-301"
	InsecureURL         RuleID = "PARLEY-302"
	UnknownSendsField   RuleID = "PARLEY-303"
	SecretInFlow        RuleID = "PARLEY-304"
	SpecialNeedsConsent RuleID = "PARLEY-305"
)

var rules = map[RuleID]Rule{}

func def(id RuleID, slug string, sev Severity, summary, help string) {
	if _, dup := rules[id]; dup {
		panic("diag: duplicate rule " + string(id))
	}
	rules[id] = Rule{ID: id, Slug: slug, Severity: sev, Summary: summary, Help: help}
}

func init() {
	def(YAMLSyntax, "yaml-syntax", Error, "The file is not valid YAML.",
		"Check indentation (spaces, not tabs), matching quotes and that every key is followed by a colon and a space.")
	def(DuplicateKey, "duplicate-key", Error, "A key appears twice in the same block.",
		"YAML would silently keep only one of them. Rename or remove one; the message points at the first definition.")
	def(AliasNotAllowed, "alias", Error, "YAML anchors, aliases and merge keys are not allowed.",
		"Flows must read the same for everyone: write the repeated text out instead of using & and *.")
	def(SpecVersion, "spec-version", Error, "The flow's `parley:` version is missing or not supported.",
		"Start every flow with `parley: 1`.")
	def(EmptyFile, "empty-file", Error, "The file has no flow in it.",
		"A flow needs at least `parley`, `id`, `start` and `steps`.")
	def(CustomTag, "custom-tag", Error, "A YAML tag such as !include or !!binary is used.",
		"Flows are plain data: remove the tag. Text that starts with ! must be put in quotes.")
	def(MultipleDocuments, "multiple-documents", Error, "The file holds more than one YAML document.",
		"A line with --- starts a new document. Keep one flow per file and remove the extra ---.")
	def(NonTextKey, "non-text-key", Error, "A key is a number, true/false, a list or a block instead of a word.",
		"Keys are names: write them as words, or put them in quotes (\"1\": instead of 1:).")
	def(FileTooLarge, "file-too-large", Error, "The file is larger than a flow can be (1 MiB).",
		"A real flow is a few kilobytes. Split a very large flow into several flows, and check that the file is the flow you meant to lint.")
	def(UnknownKey, "unknown-key", Error, "A key is not part of the flow language.",
		"Usually a typo: the message suggests the closest valid key. docs/language.md lists every key.")
	def(WrongType, "wrong-type", Error, "A value has the wrong kind (for example a list where text is expected).",
		"Compare with the examples in docs/language.md.")
	def(MissingKey, "missing-key", Error, "A required key is missing.",
		"Add the key named in the message to the block it points at.")
	def(InvalidValue, "invalid-value", Error, "A value is not one of the allowed values or has the wrong format.",
		"The message lists what is allowed.")
	def(UnknownStep, "unknown-step", Error, "A step refers to a step that does not exist.",
		"Check the spelling of the target in next:, then:, else:, on_fail:, start: or on_decline:.")
	def(UnknownField, "unknown-field", Error, "A step saves or uses a field that is not declared under fields:.",
		"Declare the field with its type, purpose and retention, or fix the spelling.")
	def(UnknownPurpose, "unknown-purpose", Error, "A field or integration names a purpose that is not declared under purposes:.",
		"Declare the purpose with its legal basis and description, or fix the spelling.")
	def(OptionsNotChoice, "options-not-choice", Error, "A step offers options but saves a field that is not of type choice.",
		"Change the field's type to choice, or remove the options.")
	def(MissingLanguage, "missing-translation", Error, "A text has no translation for a language the flow declares.",
		"Add the missing language to the text, or remove the language from languages:.")
	def(ExprError, "expression", Error, "An expression in if: or {{ }} does not compile.",
		"Expressions may use declared fields and helpers; the message says what is wrong at the exact column.")
	def(TypeMismatch, "type-mismatch", Error, "An expression mixes types (for example compares a number field with text).",
		"Compare like with like: numbers with numbers, text with quoted text.")
	def(Unreachable, "unreachable-step", Warning, "No path from start: reaches this step.",
		"Remove the step or point a next:, then:, else: or on_fail: at it.")
	def(LoopWithoutWait, "loop-without-wait", Error, "Steps form a loop that never waits for the customer.",
		"The conversation would spin forever. Put an ask: in the loop or break it with end: true.")
	def(UnknownIntegration, "unknown-integration", Error, "A call: step names an integration that is not declared.",
		"Declare it under integrations: or fix the spelling.")
	def(StepShape, "step-shape", Error, "A step mixes keys that do not go together or does nothing.",
		"A step does one thing: say, ask (with save), if/then/else, call, or handoff.")
	def(NoEnd, "no-end", Warning, "The flow has no step with end: true.",
		"Conversations end after the last step anyway; mark the last step with end: true to make it explicit.")
	def(ChoiceNoOptions, "choice-without-options", Error, "A step asks for a choice field but offers no options.",
		"Add options: with an id and a title for each choice.")
	def(UnknownLanguage, "unknown-language", Error, "A text has a translation for a language the flow does not declare.",
		"Add the language to languages:, or fix the language code (two lower-case letters such as en or it).")
	def(SendsOtherPurpose, "sends-other-purpose", Error, "An integration sends a field collected for another purpose.",
		"Purpose limitation: a field may only leave for the purpose it was collected for. Remove it from sends: or change the integration's purpose.")
	def(InsecureURL, "insecure-url", Error, "An integration URL does not use https.",
		"Personal data must travel encrypted: use an https:// URL.")
	def(UnknownSendsField, "unknown-sends-field", Error, "An integration sends a field that is not declared.",
		"List only declared fields under sends:.")
	def(SecretInFlow, "secret-in-flow", Error, "A secret appears to be written in the flow.",
		"Secrets come from the environment: use secret_env: NAME instead.")
	def(SpecialNeedsConsent, "special-needs-consent", Error, "A special-category field has a purpose whose basis is not consent.",
		"Health, religion and other special categories need explicit consent: set the purpose's basis to consent.")
}

// Lookup returns the rule with the given ID.
func Lookup(id RuleID) (Rule, bool) {
	r, ok := rules[id]
	return r, ok
}

// Rules returns every rule, sorted by ID.
func Rules() []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Severity returns the rule's default severity, or Error for an unknown ID.
func (id RuleID) Severity() Severity {
	if r, ok := rules[id]; ok {
		return r.Severity
	}
	return Error
}
