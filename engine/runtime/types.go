package runtime

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/engine/compile"
)

// Answer is text typed by a customer. It is personal data: it redacts itself
// when printed or logged, so it cannot leak through fmt or slog by accident.
// Use string(a) where the value is really needed.
type Answer string

// String hides the content.
func (Answer) String() string { return "[redacted]" }

// LogValue hides the content from slog.
func (Answer) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// GoString hides the content from %#v.
func (Answer) GoString() string { return "[redacted]" }

// Inbound is one message from a customer.
type Inbound struct {
	// ID is the channel's message id (WhatsApp wamid); it goes into consent
	// records so a consent can be traced to the message that gave it.
	ID string
	// Text is what the customer typed (empty for a button tap).
	Text Answer
	// Choice is the option id of a tapped button or list row, if any.
	Choice string
	// Lang, when set, is the language the channel believes the customer
	// uses; it is only used to pick the language of a new conversation.
	Lang string
	// Campaign is where a new conversation came from when the channel
	// knows it (a click-to-WhatsApp ad: "ad:<ad id>"). A start text from an
	// entry link carries its own (compile.EntryCampaign). Not personal data:
	// it is recorded with the consent records of the conversation.
	Campaign string
}

// MessageKind says why a message is sent; channels may render kinds
// differently (a consent question as Yes/No buttons, for example).
type MessageKind int

const (
	// KindSay is a plain statement from a say: step.
	KindSay MessageKind = iota
	// KindAsk is a question that waits for an answer.
	KindAsk
	// KindRetry repeats a question after an invalid answer.
	KindRetry
	// KindConsent asks for consent, with Yes/No options.
	KindConsent
	// KindNotice informs about collection under a non-consent basis.
	KindNotice
	// KindRights answers MY DATA, DELETE MY DATA, STOP and PRIVACY.
	KindRights
	// KindHandoff tells the customer a person takes over, that their
	// message reached the team, or that the bot took the conversation back.
	KindHandoff
	// KindStaff is a reply written by a person of the team (the console).
	KindStaff
)

// Option is one choice offered with a message.
type Option struct {
	ID    string
	Title string
}

// Message is one message to send to the customer.
type Message struct {
	Kind    MessageKind
	Text    string
	Options []Option
}

// Status is where a conversation is.
type Status int

const (
	// StatusNew: nothing has happened yet; the next inbound starts the flow.
	StatusNew Status = iota
	// StatusWaiting: an ask (or consent question) waits for an answer.
	StatusWaiting
	// StatusEnded: the flow reached its end; the next inbound starts anew.
	StatusEnded
	// StatusHandedOff: a person has taken over; the bot stays quiet except
	// for rights keywords.
	StatusHandedOff
)

// Value is one collected field value, with what privacy needs to know of it.
// V holds a string (text, email, phone, choice, date as YYYY-MM-DD), a
// float64 (number) or a bool (boolean).
type Value struct {
	V           any
	CollectedAt time.Time
	// ExpiresAt is zero for session and transient fields.
	ExpiresAt time.Time
}

// ConsentState is the customer's answer for one consent-based purpose.
type ConsentState int

const (
	ConsentUnknown ConsentState = iota
	ConsentGranted
	ConsentDeclined
	ConsentWithdrawn
)

// State is one conversation. It is small and owned by the caller of Step;
// Step changes it in place. Values holds the fields currently held for the
// subject (unexpired); the store persists them separately from the rest.
type State struct {
	Flow     string
	Version  int
	Lang     string
	Status   Status
	Step     string // id of the current step (the one waiting, when Waiting)
	Attempts int
	// Pending is set while a question of the engine's own waits for an
	// answer: "consent:<purpose>" or "erase".
	Pending string
	Values  map[string]Value
	Consent map[string]ConsentState
	// Noticed records the purposes whose notice (or consent question) was
	// shown, by notice hash, so a changed notice asks again.
	Noticed map[string]string
	// OptedOut is set by STOP: nothing more is collected until the customer
	// starts again.
	OptedOut    bool
	LastInbound time.Time
	// Offered holds the options an integration answered (receives_options:)
	// until the ask that offers them (options_from:) is answered or the
	// conversation ends. Not personal data unless saved; never logged.
	Offered []Option
	// Campaign is the campaign reference or ad the conversation started
	// from ("" for none); consent records given in it carry it.
	Campaign string
	// Keep is how long the store keeps this state after the turn: the
	// flow's conversation_retention, set by Step (not persisted).
	Keep time.Duration
	// Handoff is set while the conversation is handed off to a person
	// (Status StatusHandedOff).
	Handoff *Handoff
	// Waiting holds messages for a channel that cannot push (the web
	// chat): the team's replies, and what the bot said when the team
	// handed the conversation back, until the page collects them.
	Waiting []Message
}

// Handoff is a hand-off in progress: why it began, until when the team
// has to answer, and how to reach the customer meanwhile.
type Handoff struct {
	// Reason is why: ReasonKeyword, or "step:<id>", or
	// "integration:<name>" (a failed call whose on_fail hands off).
	Reason string
	Since  time.Time
	// Until is when the bot takes the conversation back.
	Until time.Time
	// Acked is set once the customer was told that their messages reach
	// the team (they are told once, not after every message).
	Acked bool
	// Lines counts the transcript lines of the hand-off (it numbers them).
	Lines int
	// Channel and To are the customer's channel and address on it, set by
	// the host, so a person's reply can reach them. Personal data: kept
	// only in the sealed conversation state.
	Channel, To string
}

// ReasonKeyword is the Handoff.Reason of a customer who typed HUMAN (or a
// translation of it).
const ReasonKeyword = "keyword"

// EffectKind names a side effect the host must carry out.
type EffectKind int

const (
	// EffectStore stores Field=Value for Purpose until Value.ExpiresAt
	// (session fields: until the conversation ends).
	EffectStore EffectKind = iota + 1
	// EffectDelete deletes Field.
	EffectDelete
	// EffectConsent records a consent decision for Purpose.
	EffectConsent
	// EffectNotice records that the notice for Purpose was shown.
	EffectNotice
	// EffectErase erases everything held about the subject.
	EffectErase
	// EffectHandoff asks a person to take over (Reason says why; the
	// state's Handoff holds the rest).
	EffectHandoff
	// EffectEnd marks the end of the conversation; session fields go.
	EffectEnd
	// EffectCall records that an integration was called (with field names
	// only, never values). Target is the compiled integration.
	EffectCall
	// EffectAccess records that the customer used an access right in the
	// chat (Right: AccessMyData or AccessPrivacy), for the audit log. It
	// carries no content.
	EffectAccess
	// EffectStop records that the customer typed STOP: integrations that
	// received data about them are told (see compile.Integration.OnStop).
	EffectStop
	// EffectRemind schedules Template (a key under templates:) for At,
	// under Purpose; Until (zero: none) is when the field it was computed
	// from expires, after which it must not go out.
	EffectRemind
	// EffectTranscript keeps one message of a handed-off conversation
	// (Value.V is its text, Value.ExpiresAt the end of the flow's
	// transcript retention; Right is TranscriptCustomer or TranscriptStaff).
	EffectTranscript
	// EffectHandoffEnd records that a hand-off ended; Reason says how
	// (HandoffTimedOut, HandoffReturned, HandoffClosed, HandoffEnded).
	EffectHandoffEnd
)

// Who wrote a transcript line (Effect.Right of EffectTranscript).
const (
	TranscriptCustomer = "customer"
	TranscriptStaff    = "staff"
)

// How a hand-off ended (Effect.Reason of EffectHandoffEnd).
const (
	HandoffTimedOut = "timeout"
	HandoffReturned = "returned"
	HandoffClosed   = "closed"
	HandoffEnded    = "ended" // STOP, or the conversation ended otherwise
)

// Rights an EffectAccess names.
const (
	AccessMyData  = "my_data"
	AccessPrivacy = "privacy"
)

// Effect is one side effect of a turn. Values appear only in EffectStore.
type Effect struct {
	Kind        EffectKind
	Field       string
	Purpose     string
	Basis       string
	Value       Value
	Session     bool // the value lives until the conversation ends
	Granted     bool
	NoticeHash  string
	MessageID   string
	Fields      []string // EffectCall: the names of the fields sent
	Integration string
	Right       string // EffectAccess: AccessMyData or AccessPrivacy
	Flow        string // EffectAccess: the id of the flow that answered
	// Target is the integration called (EffectCall), from the running
	// program: the host records it as a recipient of the subject's data.
	Target *compile.Integration
	// KeepFor is EffectConsent's proof period: how long the record is kept.
	KeepFor time.Duration
	// Campaign is EffectConsent's campaign reference (State.Campaign).
	Campaign string
	// Reachable marks an EffectConsent grant for a purpose the flow
	// declares a template for: the host keeps where the customer can be
	// reached for it (a broadcast), for as long as the grant stands.
	Reachable bool
	// Template, At and Until describe an EffectRemind.
	Template  string
	At, Until time.Time
	// Reason is why a hand-off began (EffectHandoff: see Handoff.Reason)
	// or how it ended (EffectHandoffEnd).
	Reason string
	// Notify is the address told of a new hand-off (EffectHandoff), from
	// the flow's handoff.notify; "" for none.
	Notify string
}

// Turn is what one inbound message produced.
type Turn struct {
	Out     []Message
	Effects []Effect
}

// Store keeps conversations between turns. Load returns (nil, nil) for a
// subject never seen; the returned State carries its unexpired Values as of
// now. Save applies a turn's effects and the new state atomically.
type Store interface {
	Load(ctx context.Context, subject string, now time.Time) (*State, error)
	Save(ctx context.Context, subject string, st *State, effects []Effect, now time.Time) error
}

// Held is what is held about a subject besides the flow's answers and the
// consents in the state: MY DATA lists it after them.
type Held struct {
	Reminders []HeldReminder
	// Transcript counts the messages written while the conversation was
	// handed off to a person that are still kept; TranscriptUntil is when
	// the last of them goes.
	Transcript      int
	TranscriptUntil time.Time
}

// HeldReminder is a message a flow scheduled for the subject.
type HeldReminder struct {
	Flow, Purpose string
	At            time.Time
}

// HeldLister is the optional part of a Store that reads Held; the Engine
// calls it only for MY DATA.
type HeldLister interface {
	Held(ctx context.Context, subject string, now time.Time) (Held, error)
}

// Call is one integration call. Integration is the compiled integration of
// the program that runs the conversation, so a name is never resolved in
// another flow; Fields holds exactly the values of its sends: list that are
// held.
type Call struct {
	Integration compile.Integration
	// Subject is the pseudonymous subject the data is about (Env.Subject);
	// a caller derives the recipient's own reference from it, never sends it.
	Subject string
	Fields  map[string]string
}

// Caller performs integration calls. An error makes the call step follow
// its on_fail. The Reply holds the integration's answer to the fields of
// its receives: list, each as text (the runtime checks it as an answer to
// that field); keys it does not declare are ignored and a caller may leave
// them out.
type Caller interface {
	Call(ctx context.Context, c Call) (Reply, error)
}

// Reply is an integration's answer: field name to value, as text.
type Reply map[string]string

// ValidCampaign reports whether ref may be a campaign reference
// (compile.ValidCampaign), for channels that read one from the wire.
func ValidCampaign(ref string) bool { return compile.ValidCampaign(ref) }
