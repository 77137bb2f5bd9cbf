// Package session keeps conversations in the vault: it implements
// runtime.Store on top of engine/vault, turning a turn's effects into one
// atomic vault commit, and offers the data-subject rights (export, erase,
// rectify) in the shapes the CLI and the admin API print.
//
// It is the only package that knows both the runtime's types and the vault's
// layout; the runtime never sees bytes and the vault never sees a flow.
package session

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/vault"
)

// Store is a runtime.Store backed by the encrypted vault. Subjects are the
// vault's pseudonymous ids in hex (see Subject).
type Store struct {
	V *vault.Vault
}

var _ runtime.Store = (*Store)(nil)

// New returns a Store on v.
func New(v *vault.Vault) *Store { return &Store{V: v} }

// Subject returns the runtime subject for a channel user: the vault's
// pseudonym, never the user id itself. The channel is case-insensitive and
// the id is taken in its canonical form (UserID), so an operator's
// "WhatsApp:+1 555 …" reaches the customer whose wa_id is 1555….
func (s *Store) Subject(channel, userID string) string {
	return s.V.SubjectID(strings.ToLower(strings.TrimSpace(channel)), UserID(userID)).Hex()
}

// state is what is persisted of runtime.State (see codec.go); field values
// are stored as separate sealed field records so each can expire on its own.
type state struct {
	Flow        string
	Version     int
	Lang        string
	Status      runtime.Status
	Step        string
	Attempts    int
	Pending     string
	Consent     map[string]runtime.ConsentState
	Noticed     map[string]string
	OptedOut    bool
	LastInbound int64
	Offered     []runtime.Option
	Campaign    string
	Handoff     *runtime.Handoff
	Waiting     []runtime.Message
}

// Load implements runtime.Store.
func (s *Store) Load(_ context.Context, subject string, now time.Time) (*runtime.State, error) {
	blob, fields, err := s.V.LoadSubject(vault.SubjectID(subject), now)
	if err != nil {
		return nil, err
	}
	if blob == nil && len(fields) == 0 {
		return nil, nil
	}
	var ps state
	if blob != nil {
		if ps, err = decodeState(blob); err != nil {
			return nil, fmt.Errorf("%w: %w", err, vault.ErrCorrupt)
		}
	}
	st := &runtime.State{
		Flow: ps.Flow, Version: ps.Version, Lang: ps.Lang, Status: ps.Status, Step: ps.Step,
		Attempts: ps.Attempts, Pending: ps.Pending, Consent: ps.Consent, Noticed: ps.Noticed, Offered: ps.Offered, Campaign: ps.Campaign,
		OptedOut: ps.OptedOut, Handoff: ps.Handoff, Waiting: ps.Waiting,
	}
	if ps.LastInbound != 0 {
		st.LastInbound = time.Unix(0, ps.LastInbound).UTC()
	}
	if len(fields) > 0 {
		st.Values = make(map[string]runtime.Value, len(fields))
		for _, f := range fields {
			if strings.HasPrefix(f.Name, vault.TranscriptPrefix) {
				continue // the team's, not an answer of the flow (Transcript)
			}
			v, err := DecodeValue(f.Value)
			if err != nil {
				return nil, err
			}
			st.Values[f.Name] = runtime.Value{V: v, CollectedAt: f.CollectedAt, ExpiresAt: f.ExpiresAt}
		}
	}
	return st, nil
}

// Save implements runtime.Store: the new state and every effect of the turn
// go to the vault in one transaction. Consent records make the commit
// durable before Save returns; an erasure replaces everything else.
func (s *Store) Save(ctx context.Context, subject string, st *runtime.State, effects []runtime.Effect, now time.Time) error {
	_, err := s.SaveTurn(ctx, subject, st, effects, now, Extra{})
	return err
}

// Extra is what a channel commits together with a turn.
type Extra struct {
	// Outbox holds the turn's rendered replies, queued in the same
	// transaction as the new state.
	Outbox [][]byte
	// OutboxSending: the first Outbox entry's send starts right after the
	// commit, so it is stored as OutboxSending (vault.Change.OutboxSending).
	OutboxSending bool
	// InboxDone is the inbound message id the turn answered.
	InboxDone string
	// Channel and User are the customer's address on the channel, held
	// sealed under the subject's key so that a breach notification can
	// reach them (vault.Change.User), and where a reminder the turn
	// schedules is sent.
	Channel, User string
	// Lease is the claim of that message on a shared store (ClaimInbox),
	// acked in the same commit; nil on Badger.
	Lease *store.Lease
}

// SaveTurn is Save plus the channel's outbox entries and inbox mark, all in
// one vault transaction; it returns the outbox sequence numbers. After an
// erasure it only marks the inbound message done: the replies confirming
// the erasure are returned as a second, separate commit under the subject's
// new key.
func (s *Store) SaveTurn(_ context.Context, subject string, st *runtime.State, effects []runtime.Effect, now time.Time, x Extra) ([]uint64, error) {
	sid := vault.SubjectID(subject)
	c := vault.Change{Outbox: x.Outbox, OutboxSending: x.OutboxSending, InboxDone: x.InboxDone, Channel: x.Channel, User: x.User, Ack: x.Lease}
	for _, e := range effects {
		switch e.Kind {
		case runtime.EffectStore:
			b, err := EncodeValue(e.Value.V)
			if err != nil {
				return nil, fmt.Errorf("session: field %s: %w", e.Field, err)
			}
			exp := e.Value.ExpiresAt
			if e.Session {
				exp = time.Time{}
			}
			c.Put = append(c.Put, vault.FieldRecord{
				Name: e.Field, Value: b, Purpose: e.Purpose, Basis: e.Basis,
				CollectedAt: e.Value.CollectedAt, ExpiresAt: exp, Flow: st.Flow, FlowVersion: st.Version,
			})
		case runtime.EffectDelete:
			// The vault deletes before it puts: an answer given and
			// forgotten in the same turn (a forget step, or an on_fail
			// that drops it) must not be written at all.
			c.Put = slices.DeleteFunc(c.Put, func(r vault.FieldRecord) bool { return r.Name == e.Field })
			c.Delete = append(c.Delete, e.Field)
		case runtime.EffectConsent:
			cr := vault.ConsentRecord{
				Purpose: e.Purpose, Granted: e.Granted, At: now, Flow: st.Flow, FlowVersion: st.Version,
				NoticeHash: e.NoticeHash, MessageID: e.MessageID, Campaign: e.Campaign,
			}
			if e.KeepFor > 0 {
				cr.KeepUntil = now.Add(e.KeepFor) // the purpose's proof period
			}
			c.Consents = append(c.Consents, cr)
			if e.Granted && e.Reachable && x.User != "" {
				keep := e.KeepFor
				if keep <= 0 {
					keep = 2 * 365 * 24 * time.Hour // the vault's default proof period
				}
				c.Contacts = append(c.Contacts, vault.Contact{Purpose: e.Purpose, Flow: st.Flow,
					Channel: x.Channel, To: x.User, Granted: now, Until: now.Add(keep)})
			}
			if !e.Granted {
				// Recipients of the purpose sent data since they were last
				// told get a stop notice (the vault decides who).
				c.Withdrawn = append(c.Withdrawn, e.Purpose)
			}
		case runtime.EffectStop:
			c.Stop = true
		case runtime.EffectRemind:
			if x.User == "" {
				continue
			}
			until := e.At.Add(vault.ReminderGrace)
			if !e.Until.IsZero() && e.Until.Before(until) {
				until = e.Until
			}
			c.Remind = append(c.Remind, vault.Reminder{
				Purpose: e.Purpose, Flow: st.Flow, Template: e.Template, At: e.At, Until: until,
				Channel: x.Channel, To: x.User,
			})
		case runtime.EffectTranscript:
			text, _ := e.Value.V.(string)
			c.Put = append(c.Put, transcriptRecord(e.Field, e.Right, text, e.Value.CollectedAt, e.Value.ExpiresAt, st))
		case runtime.EffectHandoff:
			if h := st.Handoff; h != nil {
				c.Handoff = &vault.HandoffEntry{Channel: h.Channel, Flow: st.Flow, Reason: h.Reason,
					Since: h.Since, Until: h.Until, Notify: e.Notify}
			}
		case runtime.EffectHandoffEnd:
			c.HandoffDone = true
			if st.Handoff == nil {
				c.Handoff = nil // ended in the turn it began
			}
		case runtime.EffectCall:
			if in := e.Target; in != nil && len(e.Fields) > 0 {
				c.Sent = append(c.Sent, vault.Recipient{
					Flow: in.Flow, Integration: in.Name, Purpose: in.Purpose,
					OnErase: in.OnErase, OnStop: in.OnStop, SecretEnv: in.SecretEnv,
				})
			}
		case runtime.EffectEnd:
			c.EndSession = true
			// The vault drops held session fields before it writes this
			// turn's, so a session answer of the ending turn itself is
			// never written (it would outlive its conversation).
			c.Put = slices.DeleteFunc(c.Put, func(r vault.FieldRecord) bool { return r.ExpiresAt.IsZero() })
		case runtime.EffectAccess:
			// Audited before the turn commits: a reply that shows the data
			// never goes out unrecorded (a crashed turn is re-run and
			// recorded again).
			if err := s.V.Audit("subject", "access."+e.Right, sid.Hex(), map[string]string{"via": "chat", "flow": e.Flow}); err != nil {
				return nil, err
			}
		case runtime.EffectErase:
			if _, err := s.V.Erase(sid, now); err != nil {
				return nil, err
			}
			if err := s.V.Audit("subject", "erase", sid.Hex(), map[string]string{"via": "chat"}); err != nil {
				return nil, err
			}
			// Nothing of the old conversation is kept; the confirmation (if
			// any) goes out under a fresh key with no state. The erasure
			// dropped the subject's claims with its queue entries.
			return s.V.CommitTurn(sid, vault.Change{Outbox: x.Outbox, OutboxSending: x.OutboxSending, InboxDone: x.InboxDone})
		}
	}
	c.State = encodeState(st)
	c.StateKeep = st.Keep // the flow's conversation_retention
	return s.V.CommitTurn(sid, c)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Values are stored as one type byte and the value's text: 's' string,
// 'n' number, 'b' boolean ("1"/"0"). Small, exact, and independent of any
// serialisation library's quirks.

// EncodeValue encodes a field value for storage.
func EncodeValue(v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return append([]byte{'s'}, x...), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("number is not finite")
		}
		return strconv.AppendFloat([]byte{'n'}, x, 'g', -1, 64), nil
	case bool:
		if x {
			return []byte("b1"), nil
		}
		return []byte("b0"), nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// DecodeValue decodes a stored field value.
func DecodeValue(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("session: empty stored value: %w", vault.ErrCorrupt)
	}
	switch b[0] {
	case 's':
		return string(b[1:]), nil
	case 'n':
		f, err := strconv.ParseFloat(string(b[1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("session: stored number unreadable: %w", vault.ErrCorrupt)
		}
		return f, nil
	case 'b':
		return len(b) == 2 && b[1] == '1', nil
	}
	return nil, fmt.Errorf("session: stored value of unknown kind: %w", vault.ErrCorrupt)
}
