package compile

import (
	"time"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// DefaultConversationRetention is how long conversation state is kept after
// the last message when a flow does not say (conversation_retention:).
const DefaultConversationRetention = 30 * 24 * time.Hour

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
