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
	// Example shows the problem and its fix as flow YAML; empty for rules
	// whose message already names the fix.
	Example string
}

// Rule IDs. Groups: 0xx YAML syntax and files (including the policy file),
// 1xx structure (schema), 2xx meaning and flow graph (references,
// expressions, reachability), 3xx privacy checked by the engine itself,
// 4xx privacy and purpose rules of the lint catalogue, 5xx suppressions and
// style, 6xx WhatsApp channel limits (their own group: they are about how
// one channel shows a flow, not about the flow's meaning).
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
	UnknownTemplate     RuleID = "PARLEY-217"
	SendsOtherPurpose   RuleID = "PARLEY-301"
	InsecureURL         RuleID = "PARLEY-302"
	UnknownSendsField   RuleID = "PARLEY-303"
	SecretInFlow        RuleID = "PARLEY-304"
	SpecialNeedsConsent RuleID = "PARLEY-305"
	TemplateParam       RuleID = "PARLEY-306"
	MarketingTemplate   RuleID = "PARLEY-307"

	// Lint catalogue (engine/lint).
	InvalidPolicy            RuleID = "PARLEY-020"
	DeadEnd                  RuleID = "PARLEY-215"
	MaybeUnset               RuleID = "PARLEY-216"
	HandoffTimeoutLoops      RuleID = "PARLEY-218"
	ProhibitedData           RuleID = "PARLEY-401"
	UndeclaredSpecial        RuleID = "PARLEY-402"
	MarketingNeedsConsent    RuleID = "PARLEY-403"
	RetentionOverPolicy      RuleID = "PARLEY-404"
	TemplateInURL            RuleID = "PARLEY-405"
	ConsentUndescribed       RuleID = "PARLEY-406"
	UnusedField              RuleID = "PARLEY-407"
	SensitiveEcho            RuleID = "PARLEY-408"
	IntegrationNotAllowed    RuleID = "PARLEY-409"
	SuppressionWithoutReason RuleID = "PARLEY-501"
	UnusedSuppression        RuleID = "PARLEY-502"
	OptionsAsText            RuleID = "PARLEY-601"
	ButtonTitleCut           RuleID = "PARLEY-602"
	ListRowCut               RuleID = "PARLEY-603"
	MessageTooLong           RuleID = "PARLEY-604"
	NoHumanRoute             RuleID = "PARLEY-605"
	LinkNotAllowed           RuleID = "PARLEY-606"

	// Flow tests (engine/flowtest, parley test): 7xx.
	FlowTestInvalid RuleID = "PARLEY-701"
	FlowTestReplies RuleID = "PARLEY-702"
	FlowTestVault   RuleID = "PARLEY-703"
	FlowTestFlow    RuleID = "PARLEY-704"
)

var rules = map[RuleID]Rule{}

func def(id RuleID, slug string, sev Severity, summary, help string) {
	if _, dup := rules[id]; dup {
		panic("diag: duplicate rule " + string(id))
	}
	rules[id] = Rule{ID: id, Slug: slug, Severity: sev, Summary: summary, Help: help}
}

func init() {
	flowTestRules()
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
		"A step does one thing: say, ask (with save, or with options that each say where to go with next:), if/then/else, call, handoff, forget or withdraw. The keys that go with each are listed in docs/language.md, \"Which keys go together\".")
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
	def(UnknownTemplate, "unknown-template", Error, "A remind step names a template that is not declared.",
		"Declare the approved template under templates: (name, language, category, purpose, params), or fix the name.")
	def(TemplateParam, "template-param-purpose", Error, "A message template is filled with a field collected for another purpose.",
		"Purpose limitation: a template sent for a purpose may only carry fields collected for that purpose. List under params: only fields whose purpose: is the template's purpose, or give the template the field's purpose.")
	def(MarketingTemplate, "marketing-template-needs-consent", Error, "A marketing template is sent for a purpose whose basis is not consent.",
		"Marketing messages need the customer's prior consent (ePrivacy art. 13): a template of category marketing must have a purpose with basis consent, so it only reaches customers who opted in and have not withdrawn.")
	catalogue()
}

// example attaches a fixed example to a rule already defined.
func example(id RuleID, text string) {
	r := rules[id]
	r.Example = text
	rules[id] = r
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

// catalogue defines the rules of the lint catalogue (engine/lint): privacy,
// purpose and WhatsApp rules that `parley lint` adds on top of what every
// command checks, the policy file and suppressions.
func catalogue() {
	def(InvalidPolicy, "invalid-policy", Error, "The policy file .parley.yaml has a mistake.",
		"The policy sets maximum retention per legal basis and per special category, the domains links and integrations may point at, and rule severities. The message says which key is wrong; schemas/policy.schema.json describes every key. Lint stops using a policy file with mistakes and falls back to the defaults for the broken keys.")
	example(InvalidPolicy, `# .parley.yaml
# bad: retention.max wants a basis and a duration
retention:
  max:
    consent: forever
# good
retention:
  max:
    consent: 2y`)
	def(DeadEnd, "dead-end", Warning, "A step neither ends the conversation, waits for the customer nor leads anywhere.",
		"After this step nothing happens: the customer is left without a reply and without knowing the conversation is over. Mark the step with end: true, give it next:, or add else: to the branch.")
	example(DeadEnd, `# bad: "checked" has no else, and nothing follows it
  checked:
    if: age >= 18
    then: welcome
# good
  checked:
    if: age >= 18
    then: welcome
    else: sorry`)
	def(MaybeUnset, "field-may-be-unset", Warning, "A message, condition or integration uses a field that on some path to its step is not held.",
		"On the path the finding names, nothing has set the field when the step runs: the customer declined the consent its question needs (the flow went to on_decline, or on past the question), a branch skipped the question, the question gave up (on_fail), a call failed (its receives: are set only when it succeeds), a forget: or withdraw: step dropped it, or it is a transient or session answer, which does not last into a later turn or conversation. A message would show nothing in its place, a condition would compare against nothing, and an integration would be sent a blank. Ask for the field on that path, move the step, or give the message a fallback with default: {{ name | default(\"there\") }}, which is never reported.")
	example(MaybeUnset, `# bad: when the customer declines, the flow goes on to "thanks" without a name
  ask_name:
    ask: What's your name?
    save: name
  thanks:
    say: "Thanks {{ name }}!"
# good
  thanks:
    say: Thanks {{ name | default("for writing") }}!`)
	def(HandoffTimeoutLoops, "handoff-timeout-loops", Warning, "on_handoff_timeout leads straight back to a handoff step.",
		"When nobody from your team answered within handoff.timeout, the bot takes the conversation back at on_handoff_timeout. If that step (or the steps it runs without waiting for the customer) hands off again, the customer is told a person will answer, waits another timeout, and nobody ever does. Return to a step that helps without a person (a question, a link, a phone number), or leave on_handoff_timeout out so the conversation ends and the customer is told so.")
	example(HandoffTimeoutLoops, `# bad: after the timeout the customer is handed off again
on_handoff_timeout: to_person
steps:
  to_person:
    handoff: A person will answer you here.
# good
on_handoff_timeout: after_wait
steps:
  after_wait:
    ask: Our team is busy. Do you want us to call you back tomorrow?
    save: callback`)
	def(ProhibitedData, "prohibited-data", Error, "The flow asks for data a chat must never collect: a full card number, CVV, PIN, password, one-time code or national id number.",
		"Chat messages are stored by the customer's phone, by Meta and in backups: a card number, a security code, a PIN, a password or a one-time code asked in chat is a fraud pattern and a breach waiting to happen, and national id numbers are over-collection for almost every purpose. Ask for something that identifies without exposing: the last four digits of the card, a customer or case reference number, or hand the customer off to a secure channel (your app, a payment page, a person on the phone). Found by field name, label, the question and the retry text, in every language the flow declares.")
	example(ProhibitedData, `# bad
  card_number: { type: text, purpose: support, retention: 1y }
  ask_card:
    ask: What is your card number?
    save: card_number
# good
  card_last4: { type: text, purpose: support, retention: 30d, max_length: 4 }
  ask_card:
    ask: What are the last four digits of your card?
    save: card_last4`)
	def(UndeclaredSpecial, "undeclared-special-category", Error, "A field looks like special-category data (health, religion, …) but does not say so with special:.",
		"GDPR art. 9 and 10 data (health, religion, ethnicity, politics, sexual orientation, biometric, genetic, trade union membership, criminal records) needs explicit consent and shorter retention. Declare it with special: CATEGORY so the engine asks for explicit consent and the policy limits apply, or stop asking for it. Found by field name, label, question and retry text in every declared language.")
	example(UndeclaredSpecial, `# bad
  religion: { type: text, purpose: catering, retention: 30d }
# good
  religion: { type: text, purpose: catering, retention: 30d, special: religion }
# ...with purpose catering on basis: consent`)
	def(MarketingNeedsConsent, "marketing-needs-consent", Error, "A marketing, newsletter or profiling purpose rests on a basis other than consent.",
		"Direct marketing by message and profiling need the customer's consent (ePrivacy art. 13, GDPR art. 22): legitimate interests or contract are not enough. Set the purpose's basis to consent, with a description that says what will be sent.")
	example(MarketingNeedsConsent, `# bad
  newsletter:
    basis: legitimate_interests
# good
  newsletter:
    basis: consent
    description: to send you our monthly newsletter`)
	def(RetentionOverPolicy, "retention-over-policy", Error, "A field is kept longer than the policy allows for its legal basis or special category.",
		"Storage limitation: keep data no longer than its purpose needs. The policy (.parley.yaml, or the defaults when there is none) sets a maximum per legal basis and per special category; shorten the field's retention, or raise the maximum in the policy if your records of processing justify it.")
	example(RetentionOverPolicy, `# bad (the default maximum for consent is 2y)
  email: { type: email, purpose: newsletter, retention: 100y }
# good
  email: { type: email, purpose: newsletter, retention: 1y }`)
	def(TemplateInURL, "template-in-url", Error, "An integration address contains a {{ }} template.",
		"Addresses end up in access logs, proxies and error reports, so personal data must never be put in them. List the fields under sends: and they travel in the encrypted request body. Secrets in the query are PARLEY-304.")
	example(TemplateInURL, `# bad
    url: https://crm.example/customers/{{ email }}
# good
    url: https://crm.example/customers
    sends: [email]`)
	def(ConsentUndescribed, "consent-without-description", Error, "A consent purpose has no description, or one that is not translated into every declared language.",
		"Consent is only valid when it is informed: the customer must be told, in their language, what they agree to. Give the purpose a description: with one text per language the flow declares.")
	example(ConsentUndescribed, `# bad
  marketing:
    basis: consent
# good
  marketing:
    basis: consent
    description:
      en: to send you offers by WhatsApp
      it: per inviarti offerte su WhatsApp`)
	def(UnusedField, "unused-field", Warning, "A field is collected but never used by a condition, a message or an integration.",
		"Data minimisation: do not ask for what you do not use. Use the field ({{ name }} in a message, a condition in if:, or sends: of an integration), or stop asking for it. Reported once the flow has no errors, since an error such as a misspelt name in a condition can hide a use.")
	example(UnusedField, `# bad: "age" is asked and never read
  ask_age:
    ask: How old are you?
    save: age
# good
  check_age:
    if: age >= 18
    then: welcome
    else: sorry`)
	def(SensitiveEcho, "sensitive-echo", Error, "A message shows back a prohibited or special-category field.",
		"Replies are stored on the customer's phone, in notifications and on lock screens, and by Meta. Do not repeat card numbers, codes, national ids or health and other special data: confirm without the value (\"thanks, we have your details\").")
	example(SensitiveEcho, `# bad
    say: "We saved your diagnosis: {{ diagnosis }}"
# good
    say: "Thanks, we saved your answer."`)
	def(IntegrationNotAllowed, "integration-domain-not-allowed", Error, "An integration sends data to a host outside the policy's allowed integration domains.",
		"Every recipient of personal data must be known and listed in the records of processing. Add the domain to integrations.allow in .parley.yaml after review, or use an allowed host.")
	example(IntegrationNotAllowed, `# .parley.yaml
integrations:
  allow: [crm.example.com]
# bad
    url: https://collector.other.example/hook
# good
    url: https://crm.example.com/hook`)
	def(SuppressionWithoutReason, "suppression-without-reason", Warning, "A parley:ignore comment gives no reason.",
		"A suppression is a decision a reviewer must be able to read: write why after the rule id, as in # parley:ignore PARLEY-605 -- hand-off is done by the shop's phone line.")
	example(SuppressionWithoutReason, `# bad
# parley:ignore PARLEY-605
# good
# parley:ignore PARLEY-605 -- customers call the shop for anything else`)
	def(UnusedSuppression, "unused-suppression", Warning, "A parley:ignore comment suppresses nothing, names an unknown rule or a rule that cannot be suppressed.",
		"Remove the comment, or fix the rule id. It applies to findings on its own line (at the end of the line) or on the next line (on a line of its own). Errors that stop the flow from running (YAML, schema, references, expressions) cannot be suppressed.")
	def(OptionsAsText, "options-as-numbered-text", Warning, "A question offers more than 10 options, so WhatsApp shows them as a numbered text.",
		"WhatsApp has reply buttons for up to 3 options and a list for up to 10 rows; with more, Parley sends a numbered text and the customer must type a number. Split the choice into two questions or offer at most 10 options.")
	example(OptionsAsText, `# bad: 12 options
    options: [ {id: jan, title: January}, ..., {id: dec, title: December} ]
# good: ask for the quarter first, then one of three months`)
	def(ButtonTitleCut, "button-title-too-long", Warning, "An option shown as a reply button has a title over 20 characters and will be cut.",
		"WhatsApp shows up to 3 options as buttons whose titles hold 20 characters; Parley cuts longer titles with \"…\". Shorten the title in every language.")
	example(ButtonTitleCut, `# bad
      - { id: tue, title: "Tuesday 8 December at 14:00" }
# good
      - { id: tue, title: "Tue 8 Dec, 14:00" }`)
	def(ListRowCut, "list-row-too-long", Warning, "An option shown as a list row has a title over 24 characters (or over 72, the row description).",
		"WhatsApp shows 4 to 10 options as a list whose row titles hold 24 characters; Parley cuts a longer title and repeats it in the row description, which holds 72. Shorten the title in every language.")
	example(ListRowCut, `# bad
      - { id: mon, title: "Monday 7 December, morning" }
# good
      - { id: mon, title: "Mon 7 Dec, morning" }`)
	def(MessageTooLong, "message-too-long", Warning, "A message is longer than WhatsApp allows, counting the longest its {{ }} values can be.",
		"A question with options has an interactive body of at most 1,024 characters (Parley sends a longer one as a separate text first), and a text message holds 4,096 (a longer one is split into several messages). Values with a bound (max_length, email, phone, number, date, choice titles) count at their longest. Shorten the text.")
	def(NoHumanRoute, "no-human-route", Warning, "Nothing in the flow tells the customer how to reach a person.",
		"People must be able to get past the bot (a complaint, a question it does not know, a right they want to exercise). The engine always understands HUMAN and its translations; say so in a message, or add a handoff: step.")
	example(NoHumanRoute, `# good: in the first message
    say: Hi! Write HUMAN at any time to talk to a person.`)
	def(LinkNotAllowed, "link-not-allowed", Error, "A message or the privacy address links to a domain outside the policy's allowed link domains.",
		"Links sent in chat are trusted by customers; a link to an unexpected domain is how phishing starts. Link only to domains listed in links.allow in .parley.yaml, or add the domain there after review.")
	example(LinkNotAllowed, `# .parley.yaml
links:
  allow: [smile.example]
# bad
    say: See https://bit.ly/x1
# good
    say: See https://smile.example/prices`)
	example(UnusedSuppression, `# bad: nothing on the next line is reported as PARLEY-605
# parley:ignore PARLEY-605 -- old comment
  greet:
    say: Hi! Write HUMAN at any time to talk to a person.
# good: remove the comment`)
	example(MessageTooLong, `# bad: "note" may be 2,000 characters, so the question can exceed 1,024
  note: { type: text, purpose: support, retention: 30d, max_length: 2000 }
    ask: "You wrote {{ note }}. Send it?"
# good
  note: { type: text, purpose: support, retention: 30d, max_length: 500 }`)
	example(Unreachable, `# bad: "done" ends the conversation, so "later" never runs
  done: { say: Bye!, end: true }
  later: { say: Never seen, end: true }
# good: remove "later", or point a next: at it`)
	example(LoopWithoutWait, `# bad
  a: { say: Checking…, next: b }
  b: { say: Still checking…, next: a }
# good
  a: { ask: Shall I check again?, save: again, options: [...] }`)
	example(NoEnd, `# good
  bye:
    say: Thanks, goodbye!
    end: true`)
	example(SendsOtherPurpose, `# bad: email was collected for "newsletter"
  crm: { url: https://crm.example/leads, purpose: booking, sends: [email] }
# good
  crm: { url: https://crm.example/leads, purpose: booking, sends: [name] }`)
	example(TemplateParam, `# bad: email was collected for "newsletter"
  appointment_reminder: { language: en, category: utility, purpose: booking, params: [email] }
# good
  appointment_reminder: { language: en, category: utility, purpose: booking, params: [day] }`)
	example(MarketingTemplate, `# bad: purpose booking has basis contract
  spring_offer: { language: en, category: marketing, purpose: booking }
# good: purpose newsletter has basis consent
  spring_offer: { language: en, category: marketing, purpose: newsletter }`)
	example(InsecureURL, `# bad
    url: http://crm.example/leads
# good
    url: https://crm.example/leads`)
	example(SecretInFlow, `# bad
    url: https://crm.example/leads?api_key=abc123
# good
    url: https://crm.example/leads
    secret_env: CRM_TOKEN`)
	example(SpecialNeedsConsent, `# bad
  care: { basis: contract, description: to prepare your visit }
  allergies: { type: text, purpose: care, retention: 30d, special: health }
# good
  care: { basis: consent, description: to prepare your visit }`)
}

// flowTestRules are the findings of parley test: a test file that cannot be
// read, and a conversation that did not go as the test says.
func flowTestRules() {
	def(FlowTestInvalid, "flow-test-invalid", Error, "A flow test file (*_test.yaml) is not shaped as a flow test.",
		"A test file has flow: (the flow file, relative to the test) and tests:, a list of conversations with name: and conversation:, whose items are - send:, - choose:, - after: or - vault:. docs/authoring.md shows a complete example.")
	def(FlowTestReplies, "flow-test-replies", Error, "The flow did not send the replies the test expects.",
		"The note shows each expected reply (-) next to what the flow sent (+). Fix the flow, or, when the new replies are right, run parley test --update to write them into the test file and review the change.")
	def(FlowTestVault, "flow-test-vault", Error, "The vault does not hold what the test expects at that point.",
		"The message names the field, consent or conversation that differs. Check the field's retention and purpose in the flow, and the after: jumps before this point.")
	def(FlowTestFlow, "flow-test-flow", Error, "The flow a test names cannot be run: it is missing or has lint errors.",
		"flow: is relative to the test file. Run parley lint on the flow and fix its errors first.")
}
