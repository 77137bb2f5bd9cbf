package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/vault"
)

// ExportedField is one field in an access export.
type ExportedField struct {
	Field       string    `json:"field"`
	Value       any       `json:"value"`
	Purpose     string    `json:"purpose"`
	Basis       string    `json:"basis"`
	CollectedAt time.Time `json:"collected_at"`
	ExpiresAt   string    `json:"expires_at"` // RFC 3339, or "end of conversation"
	Flow        string    `json:"flow"`
	FlowVersion int       `json:"flow_version"`
}

// ExportedConsent is one consent decision in an access export.
type ExportedConsent struct {
	Purpose     string    `json:"purpose"`
	Decision    string    `json:"decision"` // granted, declined or withdrawn
	At          time.Time `json:"at"`
	Flow        string    `json:"flow"`
	FlowVersion int       `json:"flow_version"`
	NoticeHash  string    `json:"notice_hash,omitempty"`
	MessageID   string    `json:"message_id,omitempty"`
	// Campaign is the entry link's reference or the ad ("ad:<id>") the
	// conversation that gave the decision started from.
	Campaign string `json:"campaign,omitempty"`
}

// Export is an access export (GDPR art. 15 and 20) in a stable JSON shape.
type Export struct {
	Subject      string            `json:"subject"`
	ExportedAt   time.Time         `json:"exported_at"`
	Conversation *ExportedState    `json:"conversation,omitempty"`
	Fields       []ExportedField   `json:"fields"`
	Consents     []ExportedConsent `json:"consents"`
	// Recipients are the integrations that were sent data about the
	// subject, with the notices they were sent (GDPR art. 15(1)(c), 19).
	Recipients []ExportedRecipient `json:"recipients"`
	// Reminders are the messages flows scheduled for the subject; Contacts
	// where the subject is kept reachable for broadcasts of a purpose
	// they granted (the channel id itself is the subject's own).
	Reminders []ExportedReminder `json:"reminders,omitempty"`
	Contacts  []ExportedContact  `json:"broadcast_contacts,omitempty"`
	// Transcript is what was written while the conversation was handed
	// off to a person, by the customer and by the team.
	Transcript []TranscriptLine `json:"transcript"`
}

// ExportedReminder is a scheduled reminder.
type ExportedReminder struct {
	Flow     string    `json:"flow"`
	Template string    `json:"template"`
	Purpose  string    `json:"purpose"`
	At       time.Time `json:"at"`
}

// ExportedContact is a purpose the subject can be sent broadcasts for.
type ExportedContact struct {
	Flow    string    `json:"flow"`
	Purpose string    `json:"purpose"`
	Channel string    `json:"channel"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
}

// ExportedRecipient is an integration that was sent data about the subject.
type ExportedRecipient struct {
	Flow        string           `json:"flow"`
	Integration string           `json:"integration"`
	Purpose     string           `json:"purpose"`
	FirstSent   time.Time        `json:"first_sent"`
	LastSent    time.Time        `json:"last_sent"`
	Notices     []ExportedNotice `json:"notices"`
}

// ExportedNotice is a pseudonymous notice queued for a recipient: an
// erasure (in an erasure receipt) or a stop.
type ExportedNotice struct {
	Flow        string    `json:"flow"`
	Integration string    `json:"integration"`
	Event       string    `json:"event"` // erase or stop
	Receipt     string    `json:"receipt"`
	At          time.Time `json:"at"`
}

func exportNotices(ns []vault.SentNotice) []ExportedNotice {
	out := make([]ExportedNotice, 0, len(ns))
	for _, n := range ns {
		out = append(out, ExportedNotice{Flow: n.Flow, Integration: n.Integration, Event: n.Event, Receipt: n.Receipt, At: n.At.UTC()})
	}
	return out
}

// ExportedState says where the subject's conversation is, without values.
// Step is the step waiting for the customer (or the hand-off step); it is
// empty once the conversation has ended.
type ExportedState struct {
	Flow        string `json:"flow"`
	FlowVersion int    `json:"flow_version"`
	Status      string `json:"status"` // new, waiting, ended or handed_off
	Step        string `json:"step,omitempty"`
	Language    string `json:"language,omitempty"`
}

// StatusName is the word for a conversation status in exports and the
// studio: new, waiting, ended or handed_off.
func StatusName(s runtime.Status) string {
	switch s {
	case runtime.StatusWaiting:
		return "waiting"
	case runtime.StatusEnded:
		return "ended"
	case runtime.StatusHandedOff:
		return "handed_off"
	}
	return "new"
}

// ExportSubject returns everything held about the subject as of now.
func ExportSubject(v *vault.Vault, s vault.SubjectID, now time.Time) (*Export, error) {
	ex, err := v.Export(s, now)
	if err != nil {
		return nil, err
	}
	rs, err := v.Recipients(s, now)
	if err != nil {
		return nil, err
	}
	out := &Export{Subject: s.Hex(), ExportedAt: now.UTC(), Fields: []ExportedField{}, Consents: []ExportedConsent{},
		Recipients: []ExportedRecipient{}, Transcript: transcriptLines(ex.Fields)}
	for _, r := range rs {
		out.Recipients = append(out.Recipients, ExportedRecipient{
			Flow: r.Flow, Integration: r.Integration, Purpose: r.Purpose,
			FirstSent: r.FirstSent.UTC(), LastSent: r.LastSent.UTC(), Notices: exportNotices(r.Notices),
		})
	}
	if ex.State != nil {
		if ps, err := decodeState(ex.State); err == nil && ps.Flow != "" {
			out.Conversation = &ExportedState{Flow: ps.Flow, FlowVersion: ps.Version, Status: StatusName(ps.Status), Language: ps.Lang}
			if ps.Status == runtime.StatusWaiting || ps.Status == runtime.StatusHandedOff {
				// An ended conversation keeps the id of its last question
				// internally; it is not where the conversation is.
				out.Conversation.Step = ps.Step
			}
		}
	}
	for _, f := range ex.Fields {
		if strings.HasPrefix(f.Name, vault.TranscriptPrefix) {
			continue // in Transcript
		}
		val, err := DecodeValue(f.Value)
		if err != nil {
			return nil, err
		}
		exp := "end of conversation"
		if !f.ExpiresAt.IsZero() {
			exp = f.ExpiresAt.UTC().Format(time.RFC3339)
		}
		out.Fields = append(out.Fields, ExportedField{
			Field: f.Name, Value: val, Purpose: f.Purpose, Basis: f.Basis,
			CollectedAt: f.CollectedAt.UTC(), ExpiresAt: exp, Flow: f.Flow, FlowVersion: f.FlowVersion,
		})
	}
	sort.Slice(out.Fields, func(i, j int) bool { return out.Fields[i].Field < out.Fields[j].Field })
	for _, r := range ex.Reminders {
		out.Reminders = append(out.Reminders, ExportedReminder{Flow: r.Flow, Template: r.Template, Purpose: r.Purpose, At: r.At.UTC()})
	}
	for _, c := range ex.Contacts {
		out.Contacts = append(out.Contacts, ExportedContact{Flow: c.Flow, Purpose: c.Purpose, Channel: c.Channel,
			Since: c.Granted.UTC(), Until: c.Until.UTC()})
	}
	granted := map[string]bool{} // purposes whose consent stands, in record order
	for _, c := range ex.Consents {
		// A refusal is a withdrawal only if it takes back a standing grant;
		// otherwise the customer declined when asked.
		d := "declined"
		switch {
		case c.Granted:
			d = "granted"
		case granted[c.Purpose]:
			d = "withdrawn"
		}
		granted[c.Purpose] = c.Granted
		out.Consents = append(out.Consents, ExportedConsent{
			Purpose: c.Purpose, Decision: d, At: c.At.UTC(), Flow: c.Flow, FlowVersion: c.FlowVersion,
			NoticeHash: c.NoticeHash, MessageID: c.MessageID, Campaign: c.Campaign,
		})
	}
	return out, nil
}

// ErasureReceipt is what an erasure prints: proof without personal data.
type ErasureReceipt struct {
	Receipt      string    `json:"receipt"`
	Subject      string    `json:"subject"`
	ErasedAt     time.Time `json:"erased_at"`
	KeyDestroyed bool      `json:"key_destroyed"`
	Fields       int       `json:"fields"`
	Consents     int       `json:"consent_records"`
	States       int       `json:"conversations"`
	Inbox        int       `json:"inbox_messages"`
	Outbox       int       `json:"outbox_messages"`
	// Notified lists the recipients of the subject's data that are sent a
	// pseudonymous erasure notice.
	Notified []ExportedNotice `json:"recipients_notified"`
}

// EraseSubject erases everything held about the subject and returns a receipt.
func EraseSubject(v *vault.Vault, s vault.SubjectID, now time.Time) (*ErasureReceipt, error) {
	r, err := v.Erase(s, now)
	if err != nil {
		return nil, err
	}
	return &ErasureReceipt{
		Receipt: r.ID, Subject: s.Hex(), ErasedAt: r.At.UTC(), KeyDestroyed: r.KeyDestroyed,
		Fields: r.Fields, Consents: r.Consents, States: r.States, Inbox: r.Inbox, Outbox: r.Outbox,
		Notified: exportNotices(r.Notices),
	}, nil
}

// ErrFlowNotLoaded is returned (wrapped) by RectifySubject when the flow
// that collected the field is not among the flows it was given: without the
// field's definition the new value cannot be checked, so nothing is changed.
var ErrFlowNotLoaded = errors.New("the flow that collected the field is not loaded")

// RectifySubject replaces the value of one held field. The new value is
// checked exactly as an answer in chat would be (runtime.ParseValue) against
// the field as declared by the flow that collected it, which flows looks up
// by id; a value the field would refuse returns an error wrapping
// runtime.ErrInvalidValue and changes nothing.
func RectifySubject(v *vault.Vault, s vault.SubjectID, field, value string, now time.Time, flows runtime.Lookup) error {
	st, fields, err := v.LoadSubject(s, now)
	if err != nil {
		return err
	}
	var held *vault.FieldRecord
	for i := range fields {
		if fields[i].Name == field {
			held = &fields[i]
		}
	}
	if held == nil {
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.Name)
		}
		if len(names) == 0 {
			return fmt.Errorf("no data is held for this subject: %w", vault.ErrNotFound)
		}
		return fmt.Errorf("no field %q is held; held fields: %s: %w", field, strings.Join(names, ", "), vault.ErrNotFound)
	}
	p, ok := flows(held.Flow)
	if !ok {
		return fmt.Errorf("field %q was collected by flow %q: %w, so the new value cannot be checked and nothing was changed", field, held.Flow, ErrFlowNotLoaded)
	}
	lang := ""
	if ps, err := decodeState(st); st != nil && err == nil && ps.Flow == held.Flow {
		lang = ps.Lang
	}
	nv, err := runtime.ParseValue(p, field, value, lang)
	if err != nil {
		return fmt.Errorf("%w; nothing was changed", err)
	}
	b, err := EncodeValue(nv)
	if err != nil {
		return err
	}
	return v.Rectify(s, field, b, now)
}

var _ runtime.HeldLister = (*Store)(nil)

// Held implements runtime.HeldLister: the subject's scheduled reminders
// and how many hand-off transcript lines are kept, for MY DATA.
func (s *Store) Held(_ context.Context, subject string, now time.Time) (runtime.Held, error) {
	ex, err := s.V.Export(vault.SubjectID(subject), now)
	if err != nil {
		return runtime.Held{}, err
	}
	var h runtime.Held
	for _, r := range ex.Reminders {
		h.Reminders = append(h.Reminders, runtime.HeldReminder{Flow: r.Flow, Purpose: r.Purpose, At: r.At})
	}
	sort.Slice(h.Reminders, func(i, j int) bool { return h.Reminders[i].At.Before(h.Reminders[j].At) })
	for _, f := range ex.Fields {
		if strings.HasPrefix(f.Name, vault.TranscriptPrefix) {
			h.Transcript++
			if f.ExpiresAt.After(h.TranscriptUntil) {
				h.TranscriptUntil = f.ExpiresAt
			}
		}
	}
	return h, nil
}
