package compile

import (
	"time"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// DefaultConversationRetention is how long conversation state is kept after
// the last message when a flow does not say (conversation_retention:).
const DefaultConversationRetention = 30 * 24 * time.Hour

// Hand-off defaults, when the flow's handoff: does not say.
const (
	DefaultHandoffTimeout      = 24 * time.Hour
	DefaultTranscriptRetention = 30 * 24 * time.Hour
)

// Handoff is how a hand-off to a person runs, compiled from the flow's
// handoff: and on_handoff_timeout:.
type Handoff struct {
	// Timeout is how long a conversation waits for a person.
	Timeout time.Duration
	// TranscriptRetention is how long what the customer writes while
	// handed off is kept.
	TranscriptRetention time.Duration
	// Notify is the https address told of each hand-off ("" for none).
	Notify string
	// OnTimeout is the step the conversation returns to after Timeout, or
	// None: it ends.
	OnTimeout int
}

// Handoff returns the flow's hand-off settings, defaults filled in.
func (p *Program) Handoff() Handoff {
	h := p.handoff
	if h.Timeout <= 0 {
		h.Timeout = DefaultHandoffTimeout
	}
	if h.TranscriptRetention <= 0 {
		h.TranscriptRetention = DefaultTranscriptRetention
	}
	return h
}

// consentProofMargin is how long a consent record outlives the longest
// retention of its purpose's fields: proof that a collection was lawful is
// needed a while after the data itself is gone.
const consentProofMargin = 365 * 24 * time.Hour

// ConversationRetention returns how long the conversation state is kept
// after the last turn that wrote it.
func (p *Program) ConversationRetention() time.Duration {
	if p.conversationRetention <= 0 {
		return DefaultConversationRetention
	}
	return p.conversationRetention
}

// compileLifetimes reads conversation_retention and computes each
// purpose's consent proof period. It runs after the fields are compiled.
func (p *Program) compileLifetimes(f *flow.Flow, ds *diag.Diagnostics) {
	if s := f.ConversationRetention; s.IsSet() {
		r, err := flow.ParseRetention(s.Value)
		switch {
		case err != nil:
			ds.Add(diag.InvalidValue, s.Range, "%s", err.Error())
		case r.Kind != flow.RetainFor:
			ds.Add(diag.InvalidValue, s.Range, "conversation_retention must be a time such as 30d, not %q: the conversation is kept between messages, so it cannot end with the session or be transient", s.Value)
		default:
			p.conversationRetention = r.For
		}
	}
	if h := f.Handoff; h != nil {
		p.handoff.Timeout = lifetime(h.Timeout, "handoff.timeout", "the conversation waits for a person", ds)
		p.handoff.TranscriptRetention = lifetime(h.TranscriptRetention, "handoff.transcript_retention", "the transcript is kept for your team", ds)
		p.handoff.Notify = h.Notify.Value
	}
	for i := range p.purposes {
		longest := time.Duration(0)
		for _, fi := range p.purposes[i].Fields {
			if r := p.fields[fi].Retention; r.Kind == flow.RetainFor && r.For > longest {
				longest = r.For
			}
		}
		p.purposes[i].ConsentProof = longest + consentProofMargin
	}
}

// lifetime reads a time such as 24h from s (0 when unset or wrong, which
// is reported).
func lifetime(s flow.Scalar, key, what string, ds *diag.Diagnostics) time.Duration {
	if !s.IsSet() {
		return 0
	}
	r, err := flow.ParseRetention(s.Value)
	switch {
	case err != nil:
		ds.Add(diag.InvalidValue, s.Range, "%s", err.Error())
	case r.Kind != flow.RetainFor:
		ds.Add(diag.InvalidValue, s.Range, "%s must be a time such as 24h, not %q: %s for a while, so it cannot be session or transient", key, s.Value, what)
	default:
		return r.For
	}
	return 0
}
